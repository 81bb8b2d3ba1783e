#include "kernels/cpu/thread_pool.h"

#include <fstream>
#include <set>
#include <string>

#include "base/result.h"

#if defined(__linux__)
#include <sched.h>
#endif

namespace turbine {

namespace {

// An idle worker first spins with pause (the next op of a decode step usually arrives
// within microseconds), then keeps polling but yields its core after each poll (so an
// oversubscribed machine can run the thread everyone waits for), then sleeps on a futex.
constexpr int kSpinIterations = 2048;
constexpr int kYieldIterations = 2048;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work() {
  for (;;) {
    int64_t i = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_tasks_) return;
    fn_(ctx_, i);
  }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  // seq_cst on both sides (here and in worker_loop) orders "bump generation, then read
  // sleepers" against "count myself a sleeper, then re-check generation": no lost wake-up,
  // and no futex syscall when every worker is still spinning.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) generation_.notify_all();
  work();
  int spins = 0;
  while (busy_.load(std::memory_order_acquire) != 0) {
    // A worker may be descheduled on an oversubscribed machine; yield instead of spinning.
    if (++spins < kSpinIterations) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinIterations) {
        cpu_relax();
        continue;
      }
      if (spins < kSpinIterations + kYieldIterations) {
        std::this_thread::yield();
        continue;
      }
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      generation_.wait(seen, std::memory_order_seq_cst);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      spins = 0;
    }
    seen = g;
    if (stop_.load(std::memory_order_relaxed)) return;
    work();
    busy_.fetch_sub(1, std::memory_order_release);
  }
}

int physical_core_count() {
  int fallback = static_cast<int>(std::thread::hardware_concurrency());
  if (fallback < 1) fallback = 1;
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return fallback;
  int allowed = CPU_COUNT(&set);
  // SMT siblings share one core's execution units; count each sibling group once.
  std::set<std::string> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    std::ifstream f("/sys/devices/system/cpu/cpu" + std::to_string(cpu) +
                    "/topology/thread_siblings_list");
    std::string siblings;
    if (!f || !std::getline(f, siblings)) return allowed > 0 ? allowed : fallback;
    cores.insert(siblings);
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  if (allowed > 0) return allowed;
#endif
  return fallback;
}

}  // namespace turbine
