#pragma once
// A persistent pool: parallel_for splits [0, n) into one contiguous range per thread, so each
// core streams its own weight rows. The caller's thread works too; no allocation per call.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsv32 {

class ThreadPool {
 public:
  // body(begin, end, thread_index)
  using RangeFn = std::function<void(std::size_t, std::size_t, unsigned)>;

  explicit ThreadPool(unsigned threads = 0);  // 0: one per hardware thread
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Runs body over [0, n) split into size() ranges; ranges are aligned to `grain` items.
  void parallel_for(std::size_t n, const RangeFn& body, std::size_t grain = 1);

 private:
  void worker_loop(unsigned index);
  void run_share(unsigned index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const RangeFn* body_ = nullptr;
  std::size_t n_ = 0;
  std::size_t grain_ = 1;
  std::size_t generation_ = 0;
  unsigned pending_ = 0;
  bool stop_ = false;
};

}  // namespace dsv32
