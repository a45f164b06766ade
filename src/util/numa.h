#pragma once
// NUMA placement (libnuma): on a machine with several memory nodes, the pool's workers are
// spread over the nodes and the weights' pages interleaved across them in 2 MiB stripes, so
// that every node's memory controller streams its share of a decoded token's weights (one node
// serves them all otherwise, at a fraction of the machine's bandwidth). Interleaving, not row
// ownership: the pool's chunks are claimed dynamically (util/thread_pool.h), so no row has a
// fixed thread. Only the CPUs and memory nodes this process may use count, and a memory policy
// the user already set (numactl --membind, --interleave, ...) is left alone: the weights are not
// placed then, the threads are still spread.
#include <cstddef>
#include <vector>

namespace dsv32 {

struct NumaNode {
  int id = 0;
  std::vector<int> cpus;
};

class NumaTopology {
 public:
  // The memory nodes this process may allocate on, each with the CPUs of it this process may run
  // on (nodes without such CPUs are left out); one node with every allowed CPU where the kernel
  // has no NUMA support.
  static NumaTopology detect();
  explicit NumaTopology(std::vector<NumaNode> nodes, bool user_memory_policy = false);

  const std::vector<NumaNode>& nodes() const { return nodes_; }
  bool multi_node() const { return nodes_.size() > 1; }
  // Whether the process started under a memory policy of its own (then nothing is placed).
  bool user_memory_policy() const { return user_memory_policy_; }
  std::vector<int> node_ids() const;
  // The CPUs each of a pool's `threads` threads may run on: thread i on node i % nodes, so the
  // threads are spread evenly (thread 0, the caller, is not pinned by the pool).
  std::vector<std::vector<int>> thread_cpus(unsigned threads) const;

 private:
  std::vector<NumaNode> nodes_;
  bool user_memory_policy_ = false;
};

// Bytes of a mapping placed on one node before the next: large enough for the page cache's
// large folios and for few policy changes, small enough to spread any tensor.
constexpr std::size_t kInterleaveStripeBytes = std::size_t{2} << 20;

// The node that offset `offset` of an interleaved range belongs on.
inline int interleave_node(std::size_t offset, const std::vector<int>& nodes) {
  return nodes[(offset / kInterleaveStripeBytes) % nodes.size()];
}

// While alive, the pages this thread allocates (a file's page cache it faults in included) are
// taken from `node` first (MPOL_PREFERRED); the thread's previous policy comes back after.
class ScopedPreferredNode {
 public:
  explicit ScopedPreferredNode(int node);
  ~ScopedPreferredNode();
  ScopedPreferredNode(const ScopedPreferredNode&) = delete;
  ScopedPreferredNode& operator=(const ScopedPreferredNode&) = delete;
  bool active() const { return active_; }

 private:
  bool active_ = false;
  int previous_mode_ = 0;
  std::vector<unsigned long> previous_mask_;
};

struct PagePlacement {
  std::size_t pages = 0;    // pages asked for
  std::size_t on_node = 0;  // resident on their target node once done
  std::size_t absent = 0;   // not resident (placed by whoever faults them in later)
  std::size_t failed = 0;   // resident but not movable (e.g. mapped by another process too)
  PagePlacement& operator+=(const PagePlacement& other);
};

// Moves the resident pages of [data, data + bytes) (page-aligned data) that are not on
// interleave_node(their offset) there; returns where all of them ended up.
PagePlacement interleave_pages(const void* data, std::size_t bytes, const std::vector<int>& nodes);

// How many resident pages of the range lie on each node id (index: node id); for tests and reports.
std::vector<std::size_t> pages_per_node(const void* data, std::size_t bytes);

// The CPUs this process may run on (sched_getaffinity: taskset, cpusets); every CPU where the
// kernel does not say.
std::vector<int> allowed_cpus();

// Pins the calling thread to `cpus` (all of them allowed); false if the kernel refused.
bool pin_current_thread(const std::vector<int>& cpus);

}  // namespace dsv32
