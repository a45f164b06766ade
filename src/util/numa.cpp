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

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

// The page-aligned addresses of the range's pages.
std::vector<void*> pages_of(const void* data, std::size_t bytes) {
  const std::size_t page = page_size();
  const auto begin = reinterpret_cast<std::uintptr_t>(data) / page * page;
  const auto end = reinterpret_cast<std::uintptr_t>(data) + bytes;
  std::vector<void*> pages;
  for (std::uintptr_t at = begin; at < end; at += page) pages.push_back(reinterpret_cast<void*>(at));
  return pages;
}

constexpr std::size_t kMovePagesBatch = 1 << 16;  // pages per move_pages call

}  // namespace

NumaTopology::NumaTopology(std::vector<NumaNode> nodes) : nodes_(std::move(nodes)) {}

NumaTopology NumaTopology::detect() {
  std::vector<NumaNode> nodes;
  if (::numa_available() >= 0) {
    struct bitmask* cpus = ::numa_allocate_cpumask();
    for (int node = 0; node <= ::numa_max_node(); ++node) {
      long long free_bytes = 0;
      if (::numa_node_size64(node, &free_bytes) <= 0 || ::numa_node_to_cpus(node, cpus) != 0) continue;
      NumaNode entry{node, {}};
      for (unsigned cpu = 0; cpu < cpus->size; ++cpu) {
        if (::numa_bitmask_isbitset(cpus, cpu) != 0) entry.cpus.push_back(static_cast<int>(cpu));
      }
      if (!entry.cpus.empty()) nodes.push_back(std::move(entry));
    }
    ::numa_free_cpumask(cpus);
  }
  if (nodes.empty()) {  // no NUMA support: one node, every CPU
    NumaNode all{0, {}};
    for (unsigned cpu = 0; cpu < std::max(1u, std::thread::hardware_concurrency()); ++cpu) all.cpus.push_back(static_cast<int>(cpu));
    nodes.push_back(std::move(all));
  }
  return NumaTopology(std::move(nodes));
}

std::vector<int> NumaTopology::node_ids() const {
  std::vector<int> ids;
  for (const NumaNode& node : nodes_) ids.push_back(node.id);
  return ids;
}

std::vector<std::vector<int>> NumaTopology::thread_cpus(unsigned threads) const {
  std::vector<std::vector<int>> cpus(threads);
  for (unsigned i = 0; i < threads; ++i) cpus[i] = nodes_[i % nodes_.size()].cpus;
  return cpus;
}

ScopedInterleave::ScopedInterleave(const std::vector<int>& nodes) {
  if (nodes.empty() || ::numa_available() < 0) return;
  const auto bits = static_cast<unsigned long>(::numa_max_possible_node() + 1);
  const std::size_t words = (bits + 8 * sizeof(unsigned long) - 1) / (8 * sizeof(unsigned long));
  previous_mask_.assign(words, 0);
  if (::get_mempolicy(&previous_mode_, previous_mask_.data(), bits, nullptr, 0) != 0) return;
  std::vector<unsigned long> mask(words, 0);
  for (const int node : nodes) mask[static_cast<std::size_t>(node) / (8 * sizeof(unsigned long))] |= 1UL << (node % (8 * sizeof(unsigned long)));
  active_ = ::set_mempolicy(MPOL_INTERLEAVE, mask.data(), bits) == 0;
}

ScopedInterleave::~ScopedInterleave() {
  if (!active_) return;
  const bool no_nodes = previous_mode_ == MPOL_DEFAULT || previous_mode_ == MPOL_LOCAL;
  ::set_mempolicy(previous_mode_, no_nodes ? nullptr : previous_mask_.data(),
                  no_nodes ? 0 : static_cast<unsigned long>(previous_mask_.size() * 8 * sizeof(unsigned long)));
}

PagePlacement interleave_pages(const void* data, std::size_t bytes, const std::vector<int>& nodes) {
  PagePlacement placement;
  if (nodes.empty() || bytes == 0) return placement;
  std::vector<void*> pages = pages_of(data, bytes);
  placement.pages = pages.size();
  std::vector<int> targets(std::min(pages.size(), kMovePagesBatch)), status(targets.size());
  for (std::size_t first = 0; first < pages.size(); first += kMovePagesBatch) {
    const std::size_t count = std::min(kMovePagesBatch, pages.size() - first);
    for (std::size_t i = 0; i < count; ++i) targets[i] = nodes[(first + i) % nodes.size()];
    if (::move_pages(0, count, pages.data() + first, targets.data(), status.data(), MPOL_MF_MOVE) < 0) {
      placement.failed += count;
      continue;
    }
    for (std::size_t i = 0; i < count; ++i) {
      if (status[i] == targets[i]) {
        ++placement.on_node;
      } else if (status[i] == -ENOENT) {
        ++placement.absent;
      } else {
        ++placement.failed;
      }
    }
  }
  return placement;
}

std::vector<std::size_t> pages_per_node(const void* data, std::size_t bytes) {
  std::vector<void*> pages = pages_of(data, bytes);
  std::vector<int> status(pages.size());
  std::vector<std::size_t> counts;
  if (pages.empty() || ::move_pages(0, pages.size(), pages.data(), nullptr, status.data(), 0) < 0) return counts;
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
