#include "thread_pool.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <immintrin.h>
#define LV_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define LV_PAUSE() __asm__ __volatile__("yield")
#else
#define LV_PAUSE() ((void)0)
#endif

namespace lv {

namespace {
// Workers poll this many times before sleeping, so back-to-back calls (decode steps) skip the wake-up cost
// without burning a core between calls for more than a few tens of microseconds.
constexpr int kSpinIterations = 4000;
}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run(int64_t items, const std::function<void(int64_t, int)>& fn) {
  if (items <= 0) return;
  std::lock_guard<std::mutex> serial(run_mutex_);
  if (workers_.empty() || items == 1) {
    for (int64_t i = 0; i < items; ++i) fn(i, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    items_ = items;
    next_.store(0, std::memory_order_relaxed);
    failed_.store(false, std::memory_order_relaxed);
    error_ = nullptr;
    busy_ = static_cast<int>(workers_.size());
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  wake_.notify_all();
  work(0);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [this] { return busy_ == 0; });
    fn_ = nullptr;
  }
  if (error_) std::rethrow_exception(error_);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && published_.load(std::memory_order_acquire) == seen; ++i) LV_PAUSE();
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    work(index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::work(int worker) {
  while (!failed_.load(std::memory_order_relaxed)) {
    const int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= items_) break;
    try {
      (*fn_)(i, worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
      failed_.store(true, std::memory_order_relaxed);
    }
  }
}

}  // namespace lv
