#include "kernels/cpu/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace turbine {
namespace {

TEST(ThreadPool, EveryIndexExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t n : {1, 2, 7, 64, 1000}) {
      std::vector<std::atomic<int>> seen(n);
      pool.parallel_for(n, [&](int64_t i) { seen[i].fetch_add(1); });
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(seen[i].load(), 1) << threads << " " << n << " " << i;
    }
  }
}

TEST(ThreadPool, ManyRepeatedSmallJobs) {
  // Stresses the generation/barrier hand-off: a lost wake-up or an early return would
  // show as a wrong total or a hang.
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  int64_t want = 0;
  for (int job = 0; job < 4000; ++job) {
    int n = 1 + job % 9;
    pool.parallel_for(n, [&](int64_t i) { total.fetch_add(i + 1, std::memory_order_relaxed); });
    want += int64_t{n} * (n + 1) / 2;
    if (job % 1000 == 0) {
      ASSERT_EQ(total.load(), want);
    }
  }
  EXPECT_EQ(total.load(), want);
}

TEST(ThreadPool, ResultsVisibleAfterReturn) {
  // Plain (non-atomic) writes by workers must be visible to the caller after the join.
  ThreadPool pool(3);
  std::vector<int> out(4096);
  for (int round = 0; round < 200; ++round) {
    pool.parallel_for(static_cast<int64_t>(out.size()),
                      [&](int64_t i) { out[i] = round + int(i); });
    for (size_t i = 0; i < out.size(); i += 97) ASSERT_EQ(out[i], round + int(i));
  }
}

TEST(ThreadPool, ZeroTasksIsANoOp) {
  ThreadPool pool(2);
  bool called = false;
  pool.parallel_for(0, [&](int64_t) { called = true; });
  EXPECT_FALSE(called);
}

TEST(ThreadPool, PhysicalCoreCountIsPositive) {
  EXPECT_GE(physical_core_count(), 1);
}

}  // namespace
}  // namespace turbine
