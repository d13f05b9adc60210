// A persistent pool: worker threads sleep between calls and share each call's items through an atomic
// counter; the calling thread works too. One call at a time (run() serialises callers).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace lv {

class ThreadPool {
 public:
  // `threads` counts the caller: 1 means no worker threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Calls fn(item, worker) for every item in [0, items); worker is in [0, size()). Returns when all are done.
  // The first exception thrown by fn is rethrown here after the remaining items are skipped.
  void run(int64_t items, const std::function<void(int64_t, int)>& fn);

 private:
  void worker_loop(int index);
  void work(int worker);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // serialises run() callers
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock for spinning
  bool stop_ = false;
  int busy_ = 0;  // workers still inside the current generation

  const std::function<void(int64_t, int)>* fn_ = nullptr;
  int64_t items_ = 0;
  std::atomic<int64_t> next_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::mutex error_mutex_;
};

}  // namespace lv
