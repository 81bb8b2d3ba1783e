// A persistent pool for the CPU kernels. A 135M model runs ~300 ops per token, each a few
// microseconds of work, so handing a job to the workers must cost far less than a thread
// start or a mutex/condvar round trip: workers spin on a generation counter for a while
// after each job (the next op usually arrives within microseconds) and only then sleep on
// it with a futex-backed atomic wait.
#pragma once
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace turbine {

class ThreadPool {
 public:
  // n_threads counts the calling thread, which takes part in every job (1 = no workers).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(i) once for every i in [0, n_tasks), spread over the pool; returns when all
  // are done. Tasks are claimed dynamically, so uneven tasks balance. Not re-entrant: call
  // from one thread at a time, and not from inside fn.
  template <typename Fn>
  void parallel_for(int64_t n_tasks, Fn&& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
      for (int64_t i = 0; i < n_tasks; ++i) fn(i);
      return;
    }
    using F = std::remove_reference_t<Fn>;
    run(
        n_tasks, [](void* ctx, int64_t i) { (*static_cast<F*>(ctx))(i); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using TaskFn = void (*)(void* ctx, int64_t i);
  void run(int64_t n_tasks, TaskFn fn, void* ctx);
  void worker_loop();
  void work();

  int n_threads_;
  std::vector<std::thread> workers_;
  // Job description, written by the caller before the generation bump publishes it.
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_tasks_ = 0;
  alignas(64) std::atomic<int64_t> next_task_{0};
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> busy_{0};      // workers still inside the current job
  alignas(64) std::atomic<int> sleepers_{0};  // workers blocked in generation_.wait
  std::atomic<bool> stop_{false};
};

// Physical cores this process may run on (SMT siblings counted once); falls back to
// std::thread::hardware_concurrency().
int physical_core_count();

}  // namespace turbine
