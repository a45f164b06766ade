#include "util/thread_pool.h"

#include <algorithm>

namespace dsv32 {

ThreadPool::ThreadPool(unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_share(unsigned index) {
  const std::size_t parts = size();
  const std::size_t blocks = (n_ + grain_ - 1) / grain_;
  const std::size_t begin = std::min(n_, blocks * index / parts * grain_);
  const std::size_t end = std::min(n_, blocks * (index + 1) / parts * grain_);
  if (begin < end) (*body_)(begin, end, index);
}

void ThreadPool::worker_loop(unsigned index) {
  std::size_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_share(index);
    {
      std::lock_guard lock(mutex_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(std::size_t n, const RangeFn& body, std::size_t grain) {
  if (n == 0) return;
  if (workers_.empty() || n <= grain) {
    body(0, n, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    body_ = &body;
    n_ = n;
    grain_ = std::max<std::size_t>(1, grain);
    pending_ = static_cast<unsigned>(workers_.size());
    ++generation_;
  }
  wake_.notify_all();
  run_share(0);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
}

}  // namespace dsv32
