#pragma once
// A persistent pool: parallel_for splits [0, n) into contiguous chunks that the caller and the
// workers claim in order, so each core streams its own weight rows. No allocation per call.
//
// A decoded token runs a few hundred parallel regions of tens of microseconds each, so waking
// workers through a condition variable (several microseconds per wake-up, per region) would cost
// as much as the work. Workers and the caller spin on atomics for a while instead, and workers
// fall asleep (futex wait on the generation counter) only after kSpinMicros without work; the
// caller takes no lock and makes no system call unless a worker sleeps. Chunks are claimed
// dynamically because the cores are often shared: when a worker is descheduled, the caller takes
// its chunks instead of waiting for it (static halves made decode 10x slower under load).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace dsv32 {

class ThreadPool {
 public:
  // body(begin, end, thread_index)
  using RangeFn = std::function<void(std::size_t, std::size_t, unsigned)>;

  // threads 0: one per hardware thread. worker_cpus[i], where given and not empty, are the CPUs
  // worker i (1 .. threads - 1) is pinned to (util/numa.h spreads them over NUMA nodes); the
  // caller, thread 0, is left as it is.
  explicit ThreadPool(unsigned threads = 0, const std::vector<std::vector<int>>& worker_cpus = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }
  // Threads for `threads` 0: the CPUs this process may run on (taskset, cpusets), at least 1.
  static unsigned default_threads();

  // Runs body over [0, n) in chunks aligned to `grain` items; each output must depend only on
  // its own items, as the chunks' owners vary from call to call. If a chunk throws, the other
  // chunks still run and the first exception is rethrown here once they are done.
  void parallel_for(std::size_t n, const RangeFn& body, std::size_t grain = 1);

 private:
  static constexpr std::int64_t kSpinMicros = 300;
  static constexpr std::size_t kChunksPerThread = 4;

  void worker_loop(unsigned index);
  void run_chunks(unsigned index);
  // Waits until a job newer than `seen` is open (or stop); returns the generation seen then.
  std::uint32_t wait_for_work(std::uint32_t seen);
  void wake_sleepers();  // after opening a job

  std::vector<std::thread> workers_;
  // Written by the caller before generation_ is bumped (release), read by workers after they
  // observe the new generation (acquire).
  const RangeFn* body_ = nullptr;
  std::size_t n_ = 0;
  std::size_t grain_ = 1;
  std::size_t chunk_items_ = 1;
  std::size_t chunks_ = 0;
  std::atomic<std::size_t> next_chunk_{0};
  std::atomic<std::size_t> done_chunks_{0};
  // Odd while a job is open to workers, even while the caller prepares or closes one; 32 bits so
  // that waiting on it is a plain futex (wrapping keeps the parity).
  std::atomic<std::uint32_t> generation_{0};
  std::atomic<unsigned> active_{0};  // workers that may be reading the current job
  // The current job's first exception: written by the chunk that set failed_, published to the
  // caller by that chunk's done_chunks_ increment.
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::atomic<bool> stop_{false};
  std::atomic<unsigned> sleepers_{0};
};

}  // namespace dsv32
