// NUMA placement (util/numa.h). A machine with one node (CI's, this project's) exercises the
// real calls with that node as the only target; the spreading over several nodes is checked on
// described topologies and stripe arithmetic.
#include <gtest/gtest.h>

#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <set>
#include <vector>

#include "util/numa.h"
#include "util/thread_pool.h"

namespace dsv32 {
namespace {

// Containers may forbid the memory-policy system calls (seccomp without CAP_SYS_NICE); placement
// then does nothing, which the code allows for.
bool memory_policy_calls_allowed() {
  int mode = 0;
  return get_mempolicy(&mode, nullptr, 0, nullptr, 0) == 0;
}

TEST(NumaTest, DetectsNodesCoveringTheCpusThisProcessMayUse) {
  const NumaTopology topology = NumaTopology::detect();
  ASSERT_FALSE(topology.nodes().empty());
  std::set<int> cpus, ids;
  for (const NumaNode& node : topology.nodes()) {
    EXPECT_FALSE(node.cpus.empty()) << "node " << node.id;
    EXPECT_TRUE(ids.insert(node.id).second) << "node " << node.id << " twice";
    cpus.insert(node.cpus.begin(), node.cpus.end());
  }
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) {
      EXPECT_TRUE(cpus.contains(cpu)) << "cpu " << cpu << " is in no node";
    }
  }
  EXPECT_EQ(topology.node_ids().size(), topology.nodes().size());
}

TEST(NumaTest, SpreadsThreadsRoundRobinOverTheNodes) {
  const NumaTopology topology({NumaNode{0, {0, 1}}, NumaNode{1, {2, 3}}});
  EXPECT_TRUE(topology.multi_node());
  const auto cpus = topology.thread_cpus(5);
  ASSERT_EQ(cpus.size(), 5u);
  for (unsigned i = 0; i < 5; ++i) EXPECT_EQ(cpus[i], (i % 2 == 0 ? std::vector<int>{0, 1} : std::vector<int>{2, 3})) << "thread " << i;
  EXPECT_FALSE(NumaTopology({NumaNode{0, {0}}}).multi_node());
}

// Each worker runs only on the CPUs it was given; the caller (thread 0) is left alone.
TEST(NumaTest, PoolPinsItsWorkers) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  int first = 0;
  while (!CPU_ISSET(first, &allowed)) ++first;
  ThreadPool pool(3, {{}, {first}, {first}});
  std::atomic<int> checked{0}, wrong{0};
  // Enough chunks that workers take some; each reports the CPUs it may run on.
  for (int round = 0; round < 50 && checked.load() == 0; ++round) {
    pool.parallel_for(64, [&](std::size_t, std::size_t, unsigned thread) {
      usleep(100);  // slow chunks, so that the workers wake up in time to take some
      if (thread == 0) return;
      cpu_set_t set;
      pthread_getaffinity_np(pthread_self(), sizeof set, &set);
      if (CPU_COUNT(&set) != 1 || !CPU_ISSET(first, &set)) ++wrong;
      ++checked;
    });
  }
  EXPECT_GT(checked.load(), 0) << "no worker took a chunk";
  EXPECT_EQ(wrong.load(), 0);
}

TEST(NumaTest, StripesGoToTheNodesInTurn) {
  const std::vector<int> nodes = {3, 5};
  EXPECT_EQ(interleave_node(0, nodes), 3);
  EXPECT_EQ(interleave_node(kInterleaveStripeBytes - 1, nodes), 3);
  EXPECT_EQ(interleave_node(kInterleaveStripeBytes, nodes), 5);
  EXPECT_EQ(interleave_node(2 * kInterleaveStripeBytes + 7, nodes), 3);
  EXPECT_TRUE(NumaTopology({}).thread_cpus(3) == std::vector<std::vector<int>>(3));  // no nodes: nobody pinned
}

// A mapping's resident pages moved to their stripe's node; absent pages counted.
TEST(NumaTest, MovesResidentPagesToTheirStripesNode) {
  if (!memory_policy_calls_allowed()) GTEST_SKIP() << "memory-policy system calls are not allowed here";
  const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  constexpr std::size_t kPages = 64;
  void* data = mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(data, MAP_FAILED);
  std::memset(data, 1, (kPages - 8) * page);  // the last 8 pages never touched
  const int node = NumaTopology::detect().nodes().front().id;
  const PagePlacement placement = interleave_pages(data, kPages * page, {node});
  EXPECT_EQ(placement.pages, kPages);
  EXPECT_EQ(placement.on_node, kPages - 8);
  EXPECT_EQ(placement.absent, 8u);
  EXPECT_EQ(placement.failed, 0u);
  const auto counts = pages_per_node(data, kPages * page);
  ASSERT_GT(counts.size(), static_cast<std::size_t>(node));
  EXPECT_EQ(counts[static_cast<std::size_t>(node)], kPages - 8);
  munmap(data, kPages * page);
}

// The preferred-node policy holds inside the scope only.
TEST(NumaTest, ScopedPreferredNodeSetsAndRestoresThePolicy) {
  if (!memory_policy_calls_allowed()) GTEST_SKIP() << "memory-policy system calls are not allowed here";
  int mode = -1;
  ASSERT_EQ(get_mempolicy(&mode, nullptr, 0, nullptr, 0), 0);
  const int before = mode;
  const int node = NumaTopology::detect().nodes().front().id;
  {
    const ScopedPreferredNode on(node);
    ASSERT_TRUE(on.active());
    ASSERT_EQ(get_mempolicy(&mode, nullptr, 0, nullptr, 0), 0);
    EXPECT_EQ(mode, MPOL_PREFERRED);
  }
  ASSERT_EQ(get_mempolicy(&mode, nullptr, 0, nullptr, 0), 0);
  EXPECT_EQ(mode, before);
  EXPECT_FALSE(ScopedPreferredNode(-1).active());
}

// A process started under a memory policy of its own (numactl) keeps it: no placement.
TEST(NumaTest, DetectsAMemoryPolicyOfTheUsers) {
  if (!memory_policy_calls_allowed()) GTEST_SKIP() << "memory-policy system calls are not allowed here";
  if (NumaTopology::detect().user_memory_policy()) GTEST_SKIP() << "the tests run under a memory policy already";
  const int node = NumaTopology::detect().nodes().front().id;
  const ScopedPreferredNode on(node);
  EXPECT_TRUE(NumaTopology::detect().user_memory_policy());
}

}  // namespace
}  // namespace dsv32
