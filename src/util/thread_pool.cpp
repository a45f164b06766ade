#include "util/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "util/numa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dsv32 {
namespace {

bool is_open(std::uint32_t generation, std::uint32_t seen) { return generation != seen && generation % 2 == 1; }

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace

unsigned ThreadPool::default_threads() { return static_cast<unsigned>(allowed_cpus().size()); }

ThreadPool::ThreadPool(unsigned threads, const std::vector<std::vector<int>>& worker_cpus) {
  if (threads == 0) threads = default_threads();
  for (unsigned i = 1; i < threads; ++i) {
    std::vector<int> cpus = i < worker_cpus.size() ? worker_cpus[i] : std::vector<int>{};
    workers_.emplace_back([this, i, cpus = std::move(cpus)] {
      if (!cpus.empty()) pin_current_thread(cpus);  // refused (a cpuset without them): runs unpinned
      worker_loop(i);
    });
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  generation_.fetch_add(2, std::memory_order_seq_cst);  // wakes sleepers, keeps the parity
  generation_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::wake_sleepers() {
  // A worker counts itself in sleepers_ before its last look at generation_ and its futex wait
  // compares the value atomically, so either it sees the new generation or we see it and wake it.
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
}

void ThreadPool::run_chunks(unsigned index) {
  for (;;) {
    const std::size_t chunk = next_chunk_.fetch_add(1, std::memory_order_relaxed);
    if (chunk >= chunks_) return;
    const std::size_t begin = chunk * chunk_items_;
    const std::size_t end = std::min(n_, begin + chunk_items_);
    try {
      (*body_)(begin, end, index);
    } catch (...) {
      // The first failure is kept for the caller, which rethrows it once the job is closed (an
      // exception leaving a worker would terminate the process); the other chunks still run.
      if (!failed_.exchange(true, std::memory_order_relaxed)) error_ = std::current_exception();
    }
    done_chunks_.fetch_add(1, std::memory_order_release);  // (also publishes error_)
  }
}

std::uint32_t ThreadPool::wait_for_work(std::uint32_t seen) {
  const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(kSpinMicros);
  for (unsigned spin = 1;; ++spin) {
    const std::uint32_t generation = generation_.load(std::memory_order_acquire);
    if (is_open(generation, seen) || stop_.load(std::memory_order_acquire)) return generation;
    cpu_relax();
    if (spin % 256 == 0 && std::chrono::steady_clock::now() > spin_until) break;
  }
  sleepers_.fetch_add(1, std::memory_order_seq_cst);
  for (;;) {
    const std::uint32_t generation = generation_.load(std::memory_order_seq_cst);
    if (is_open(generation, seen) || stop_.load(std::memory_order_seq_cst)) {
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      return generation;
    }
    generation_.wait(generation, std::memory_order_seq_cst);
  }
}

void ThreadPool::worker_loop(unsigned index) {
  std::uint32_t seen = 0;
  for (;;) {
    seen = wait_for_work(seen);
    // Announce ourselves, then look at the generation again: the caller closes a job before it
    // waits for active_ to drop to zero, so either we see it closed or it waits for us.
    active_.fetch_add(1, std::memory_order_seq_cst);
    seen = generation_.load(std::memory_order_seq_cst);
    if (stop_.load(std::memory_order_acquire)) return;
    if (seen % 2 == 1) run_chunks(index);
    active_.fetch_sub(1, std::memory_order_release);
  }
}

void ThreadPool::parallel_for(std::size_t n, const RangeFn& body, std::size_t grain) {
  if (n == 0) return;
  grain = std::max<std::size_t>(1, grain);
  if (workers_.empty() || n <= grain) {
    body(0, n, 0);
    return;
  }
  const std::size_t blocks = (n + grain - 1) / grain;
  const std::size_t wanted = std::min(blocks, kChunksPerThread * size());
  body_ = &body;
  n_ = n;
  grain_ = grain;
  chunk_items_ = (blocks + wanted - 1) / wanted * grain;
  chunks_ = (n + chunk_items_ - 1) / chunk_items_;
  next_chunk_.store(0, std::memory_order_relaxed);
  done_chunks_.store(0, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);  // open
  wake_sleepers();
  run_chunks(0);
  // Close the job (no worker enters it after this), then wait for the chunks others claimed and
  // until no worker can still read the job's fields.
  generation_.fetch_add(1, std::memory_order_seq_cst);  // closed: sleepers need no wake-up for it
  for (unsigned spin = 1;
       done_chunks_.load(std::memory_order_acquire) != chunks_ || active_.load(std::memory_order_seq_cst) != 0; ++spin) {
    if (spin < 1024) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
  if (failed_.load(std::memory_order_relaxed)) {
    failed_.store(false, std::memory_order_relaxed);
    std::rethrow_exception(std::exchange(error_, nullptr));
  }
}

}  // namespace dsv32
