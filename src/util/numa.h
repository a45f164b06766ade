#pragma once
// NUMA placement (libnuma): on a machine with several memory nodes, the pool's workers are
// spread over the nodes and the weights' pages interleaved across them, so that every node's
// memory controller streams its share of a decoded token's weights (one node serves them all
// otherwise, at a fraction of the machine's bandwidth). Interleaving, not row ownership: the
// pool's chunks are claimed dynamically (util/thread_pool.h), so no row has a fixed thread.
// On one node (or without NUMA support) nothing is placed.
#include <cstddef>
#include <vector>

namespace dsv32 {

struct NumaNode {
  int id = 0;
  std::vector<int> cpus;
};

class NumaTopology {
 public:
  // The nodes that have memory and CPUs, from libnuma; one node with every CPU where the kernel
  // has no NUMA support.
  static NumaTopology detect();
  explicit NumaTopology(std::vector<NumaNode> nodes);

  const std::vector<NumaNode>& nodes() const { return nodes_; }
  bool multi_node() const { return nodes_.size() > 1; }
  std::vector<int> node_ids() const;
  // The CPUs each of a pool's `threads` threads may run on: thread i on node i % nodes, so the
  // threads are spread evenly (thread 0, the caller, is not pinned by the pool).
  std::vector<std::vector<int>> thread_cpus(unsigned threads) const;

 private:
  std::vector<NumaNode> nodes_;
};

// While alive, the pages this thread allocates (a file's page cache it faults in included) are
// interleaved over `nodes` (set_mempolicy); the thread's previous policy comes back after.
class ScopedInterleave {
 public:
  explicit ScopedInterleave(const std::vector<int>& nodes);
  ~ScopedInterleave();
  ScopedInterleave(const ScopedInterleave&) = delete;
  ScopedInterleave& operator=(const ScopedInterleave&) = delete;
  bool active() const { return active_; }

 private:
  bool active_ = false;
  int previous_mode_ = 0;
  std::vector<unsigned long> previous_mask_;
};

struct PagePlacement {
  std::size_t pages = 0;    // pages in the range
  std::size_t on_node = 0;  // resident on their target node once done
  std::size_t absent = 0;   // not resident (they follow the faulting thread's policy later)
  std::size_t failed = 0;   // resident but not movable (e.g. mapped by another process too)
};

// Moves the resident pages of [data, data + bytes) so that page i lies on nodes[i % nodes.size()]
// (move_pages); returns where they ended up.
PagePlacement interleave_pages(const void* data, std::size_t bytes, const std::vector<int>& nodes);

// How many resident pages of the range lie on each node id (index: node id); for tests and reports.
std::vector<std::size_t> pages_per_node(const void* data, std::size_t bytes);

// Pins the calling thread to `cpus` (all of them allowed); false if the kernel refused.
bool pin_current_thread(const std::vector<int>& cpus);

}  // namespace dsv32
