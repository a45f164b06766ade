#include "util/numa.h"

#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <thread>

namespace dsv32 {
namespace {

constexpr std::size_t kMaskWordBits = 8 * sizeof(unsigned long);

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

// The range's pages: the first one's address (page-aligned), how many, and the page size
// (asked once, not for each of a large model's millions of pages).
struct Pages {
  std::uintptr_t first;
  std::size_t count, page;
  void* at(std::size_t i) const { return reinterpret_cast<void*>(first + i * page); }
};
Pages pages_of(const void* data, std::size_t bytes) {
  const std::size_t page = page_size();
  const auto begin = reinterpret_cast<std::uintptr_t>(data) / page * page, end = reinterpret_cast<std::uintptr_t>(data) + bytes;
  return {begin, bytes == 0 ? 0 : (end - begin + page - 1) / page, page};
}

constexpr std::size_t kMovePagesBatch = 1 << 16;  // pages per move_pages call

// A node mask for the memory-policy calls, with its size in the `maxnode` they expect (the
// kernel reads maxnode - 1 bits).
struct NodeMask {
  std::vector<unsigned long> words;
  unsigned long maxnode() const { return static_cast<unsigned long>(words.size() * kMaskWordBits + 1); }
};

NodeMask node_mask_for_policy_calls() {
  const auto bits = static_cast<std::size_t>(::numa_max_possible_node() + 1);
  return NodeMask{std::vector<unsigned long>((bits + kMaskWordBits - 1) / kMaskWordBits, 0)};
}

}  // namespace

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) {
    for (unsigned cpu = 0; cpu < std::max(1u, std::thread::hardware_concurrency()); ++cpu) cpus.push_back(static_cast<int>(cpu));
  }
  return cpus;
}

NumaTopology::NumaTopology(std::vector<NumaNode> nodes, bool user_memory_policy)
    : nodes_(std::move(nodes)), user_memory_policy_(user_memory_policy) {}

NumaTopology NumaTopology::detect() {
  const std::vector<int> cpus_allowed = allowed_cpus();
  std::vector<NumaNode> nodes;
  bool user_policy = false;
  if (::numa_available() >= 0) {
    int mode = MPOL_DEFAULT;
    user_policy = ::get_mempolicy(&mode, nullptr, 0, nullptr, 0) == 0 && mode != MPOL_DEFAULT;
    struct bitmask* mems = ::numa_get_mems_allowed();
    struct bitmask* cpus = ::numa_allocate_cpumask();
    for (int node = 0; node <= ::numa_max_node(); ++node) {
      if (::numa_bitmask_isbitset(mems, static_cast<unsigned>(node)) == 0 || ::numa_node_to_cpus(node, cpus) != 0) continue;
      NumaNode entry{node, {}};
      for (const int cpu : cpus_allowed) {
        if (::numa_bitmask_isbitset(cpus, static_cast<unsigned>(cpu)) != 0) entry.cpus.push_back(cpu);
      }
      if (!entry.cpus.empty()) nodes.push_back(std::move(entry));
    }
    ::numa_free_cpumask(cpus);
    ::numa_bitmask_free(mems);
  }
  if (nodes.empty()) nodes.push_back(NumaNode{0, cpus_allowed});  // no NUMA support: one node
  return NumaTopology(std::move(nodes), user_policy);
}

std::vector<int> NumaTopology::node_ids() const {
  std::vector<int> ids;
  for (const NumaNode& node : nodes_) ids.push_back(node.id);
  return ids;
}

std::vector<std::vector<int>> NumaTopology::thread_cpus(unsigned threads) const {
  std::vector<std::vector<int>> cpus(threads);
  for (unsigned i = 0; i < threads && !nodes_.empty(); ++i) cpus[i] = nodes_[i % nodes_.size()].cpus;
  return cpus;
}

ScopedPreferredNode::ScopedPreferredNode(int node) {
  if (node < 0 || ::numa_available() < 0) return;
  NodeMask previous = node_mask_for_policy_calls();
  if (::get_mempolicy(&previous_mode_, previous.words.data(), previous.maxnode(), nullptr, 0) != 0) return;
  previous_mask_ = std::move(previous.words);
  NodeMask wanted = node_mask_for_policy_calls();
  if (static_cast<std::size_t>(node) >= wanted.words.size() * kMaskWordBits) return;
  wanted.words[static_cast<std::size_t>(node) / kMaskWordBits] |= 1UL << (static_cast<std::size_t>(node) % kMaskWordBits);
  active_ = ::set_mempolicy(MPOL_PREFERRED, wanted.words.data(), wanted.maxnode()) == 0;
}

ScopedPreferredNode::~ScopedPreferredNode() {
  if (!active_) return;
  if (previous_mode_ == MPOL_DEFAULT || previous_mode_ == MPOL_LOCAL) {
    ::set_mempolicy(previous_mode_, nullptr, 0);
  } else {
    const NodeMask previous{previous_mask_};
    ::set_mempolicy(previous_mode_, previous.words.data(), previous.maxnode());
  }
}

PagePlacement& PagePlacement::operator+=(const PagePlacement& other) {
  pages += other.pages;
  on_node += other.on_node;
  absent += other.absent;
  failed += other.failed;
  return *this;
}

PagePlacement interleave_pages(const void* data, std::size_t bytes, const std::vector<int>& nodes) {
  PagePlacement placement;
  if (nodes.empty()) return placement;
  const Pages range = pages_of(data, bytes);
  placement.pages = range.count;
  std::vector<void*> pages;
  std::vector<int> targets;
  std::vector<int> status;
  const auto flush = [&] {
    if (pages.empty()) return;
    status.assign(pages.size(), 0);
    if (::move_pages(0, pages.size(), pages.data(), targets.data(), status.data(), MPOL_MF_MOVE) < 0) {
      placement.failed += pages.size();
    } else {
      for (std::size_t i = 0; i < pages.size(); ++i) {
        if (status[i] == targets[i]) {
          ++placement.on_node;
        } else if (status[i] == -ENOENT) {
          ++placement.absent;
        } else {
          ++placement.failed;
        }
      }
    }
    pages.clear();
    targets.clear();
  };
  for (std::size_t i = 0; i < range.count; ++i) {
    pages.push_back(range.at(i));
    targets.push_back(interleave_node(i * range.page, nodes));
    if (pages.size() == kMovePagesBatch) flush();
  }
  flush();
  return placement;
}

std::vector<std::size_t> pages_per_node(const void* data, std::size_t bytes) {
  const Pages range = pages_of(data, bytes);
  std::vector<void*> pages(range.count);
  for (std::size_t i = 0; i < range.count; ++i) pages[i] = range.at(i);
  std::vector<int> status(range.count);
  std::vector<std::size_t> counts;
  if (range.count == 0 || ::move_pages(0, range.count, pages.data(), nullptr, status.data(), 0) < 0) return counts;
  for (const int node : status) {
    if (node < 0) continue;
    if (counts.size() <= static_cast<std::size_t>(node)) counts.resize(static_cast<std::size_t>(node) + 1, 0);
    ++counts[static_cast<std::size_t>(node)];
  }
  return counts;
}

bool pin_current_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (const int cpu : cpus) {
    if (cpu >= 0 && cpu < CPU_SETSIZE) CPU_SET(cpu, &set);
  }
  return CPU_COUNT(&set) > 0 && ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set) == 0;
}

}  // namespace dsv32
