// The KV pool's size: one rule for serve, run and bench (runtime/kv_sizing.h).
#include <gtest/gtest.h>

#include "engine/runtime/kv_sizing.h"

namespace turbine {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kGiB = size_t{1} << 30;

TEST(PlanKvPool, Table) {
  struct Case {
    const char* name;
    KvPoolRequest req;
    int want_blocks;  // -1: an error
    const char* want_basis;
  };
  // 1 MiB blocks of 16 tokens throughout.
  auto r = [](int explicit_blocks, double fraction, size_t free, bool device, int64_t ctx, int seqs,
              bool serving) {
    KvPoolRequest q;
    q.block_bytes = kMiB;
    q.block_size = 16;
    q.explicit_blocks = explicit_blocks;
    q.memory_fraction = fraction;
    q.free_bytes = free;
    q.on_device = device;
    q.context_tokens = ctx;
    q.max_sequences = seqs;
    q.serving = serving;
    return q;
  };
  const Case cases[] = {
      {"explicit blocks win over memory", r(100, 0.5, kGiB, false, 8192, 64, true), 100,
       "explicit"},
      {"explicit blocks even with no memory", r(7, 0.5, 0, true, 8192, 1, true), 7, "explicit"},
      // host serving: 0.5 x 10 GiB = 5120 blocks, 4 full contexts of 8192 = 2048 blocks
      {"host serving capped at what the sequences can use",
       r(0, 0.5, 10 * kGiB, false, 8192, 4, true), 2048, "context"},
      {"host serving bound by memory", r(0, 0.5, kGiB, false, 8192, 64, true), 512, "memory"},
      // device serving: free 80 GiB less a 1 GiB margin, 0.85 of 79 GiB = 68761.6 blocks
      {"device serving takes the whole budget", r(0, 0.85, 80 * kGiB, true, 8192, 4, true), 68761,
       "memory"},
      // device, small: margin is 5% (512 MiB of 10 GiB): 0.5 x 9728 MiB = 4864 blocks
      {"device margin is 5% below 20 GiB", r(0, 0.5, 10 * kGiB, true, 1 << 20, 64, true), 4864,
       "memory"},
      {"device single sequence capped at its context", r(0, 0.85, 80 * kGiB, true, 4096, 1, false),
       256, "context"},
      {"run on the host: its context", r(0, 0.85, 8 * kGiB, false, 4000, 1, false), 250, "context"},
      {"a context of zero still gets a block", r(0, 0.85, 8 * kGiB, false, 0, 1, false), 1,
       "context"},
      {"less than one block of memory", r(0, 0.5, kMiB, false, 8192, 1, false), -1, ""},
      {"no device memory", r(0, 0.85, 0, true, 8192, 1, true), -1, ""},
      {"fraction above one", r(0, 1.5, kGiB, false, 8192, 1, false), -1, ""},
      {"fraction zero", r(0, 0, kGiB, false, 8192, 1, false), -1, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto plan = plan_kv_pool(c.req);
    if (c.want_blocks < 0) {
      ASSERT_FALSE(plan.ok());
      EXPECT_FALSE(plan.error().empty());
      continue;
    }
    ASSERT_TRUE(plan.ok()) << plan.error();
    EXPECT_EQ(plan->num_blocks, c.want_blocks);
    EXPECT_EQ(plan->basis, c.want_basis);
    EXPECT_EQ(plan->bytes, size_t(c.want_blocks) * kMiB);
  }
}

TEST(PlanKvPool, AByteBudgetHoldsWhatFitsWhateverTheMemory) {
  KvPoolRequest q;
  q.block_bytes = 3 * kMiB;
  q.free_bytes = 0;  // the budget is the user's word, as --kv-blocks is
  q.on_device = true;
  q.explicit_bytes = 100 * kMiB;
  auto plan = plan_kv_pool(q);
  ASSERT_TRUE(plan.ok()) << plan.error();
  EXPECT_EQ(plan->num_blocks, 33);
  EXPECT_EQ(plan->bytes, 99 * kMiB);
  EXPECT_EQ(plan->basis, "budget");
  q.explicit_blocks = 5;  // blocks win
  EXPECT_EQ(plan_kv_pool(q)->num_blocks, 5);
  q.explicit_blocks = 0;
  q.explicit_bytes = 2 * kMiB;  // less than a block
  plan = plan_kv_pool(q);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().find("--kv-cache-mb"), std::string::npos) << plan.error();
}

TEST(PlanKvPool, TheMemoryErrorSaysWhatToDo) {
  KvPoolRequest q;
  q.block_bytes = 4 * kMiB;
  q.free_bytes = 2 * kMiB;
  q.memory_fraction = 0.5;
  auto plan = plan_kv_pool(q);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.error().find("--kv-blocks"), std::string::npos) << plan.error();
  EXPECT_NE(plan.error().find("host"), std::string::npos) << plan.error();
}

}  // namespace
}  // namespace turbine
