// KvBlockManager: allocation, prefix sharing, LRU eviction order, reference counts and
// exhaustion. Small blocks (4 tokens) keep the tables readable; nothing depends on the size.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/runtime/kv_block_manager.h"

namespace turbine {
namespace {

using Tokens = std::vector<int32_t>;
using Table = std::vector<BlockId>;

Tokens range(int32_t first, int n) {
  Tokens t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}
Tokens concat(Tokens a, const Tokens& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Allocates and marks the whole prompt computed, as after a finished prefill.
PromptAllocation prefill(KvBlockManager& m, SeqId id, const Tokens& t) {
  auto a = m.allocate_for_prompt(id, t);
  EXPECT_TRUE(a.has_value());
  m.mark_computed(id, static_cast<int>(t.size()));
  return *a;
}

TEST(KvBlockManager, AllocationTable) {
  struct Case {
    int prompt_len;
    int want_blocks;
  };
  for (const Case& c : std::vector<Case>{{1, 1}, {4, 1}, {5, 2}, {8, 2}, {10, 3}, {40, 10}}) {
    KvBlockManager m(/*num_blocks=*/10, /*block_size=*/4);
    auto a = m.allocate_for_prompt(1, range(0, c.prompt_len));
    ASSERT_TRUE(a.has_value()) << c.prompt_len;
    EXPECT_EQ(static_cast<int>(a->block_table.size()), c.want_blocks) << c.prompt_len;
    EXPECT_EQ(a->n_cached_tokens, 0);
    EXPECT_EQ(m.free_blocks(), 10 - c.want_blocks);
    EXPECT_EQ(m.used_blocks(), c.want_blocks);
    EXPECT_DOUBLE_EQ(m.usage(), c.want_blocks / 10.0);
    EXPECT_EQ(m.block_table(1), a->block_table);
    m.free(1);
    EXPECT_EQ(m.free_blocks(), 10);
    EXPECT_FALSE(m.has_sequence(1));
  }
}

TEST(KvBlockManager, SequencesShareTheirCachedPrefix) {
  struct Case {
    const char* name;
    Tokens second;
    int want_cached_tokens;
    int want_shared_blocks;
  };
  const Tokens first = range(0, 10);  // blocks [0..3] [4..7] full, [8 9] partial
  const std::vector<Case> cases = {
      {"same two full blocks then diverges", concat(range(0, 8), {100, 101, 102}), 8, 2},
      {"diverges inside block 2", concat(range(0, 6), {99, 98, 97}), 4, 1},
      {"diverges at token 0", concat({42}, range(1, 9)), 0, 0},
      {"identical prompt: partial block is private", range(0, 10), 8, 2},
      {"prompt is exactly the cached blocks: last token recomputed", range(0, 8), 4, 1},
      {"one token past the cached blocks", range(0, 9), 8, 2},
      {"shorter than one block", range(0, 3), 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    KvBlockManager m(16, 4);
    const PromptAllocation a = prefill(m, 1, first);
    EXPECT_EQ(m.match_prefix(c.second), c.want_cached_tokens);
    auto b = m.allocate_for_prompt(2, c.second);
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->n_cached_tokens, c.want_cached_tokens);
    EXPECT_LE(b->n_cached_tokens, static_cast<int>(c.second.size()) - 1);
    for (int i = 0; i < c.want_shared_blocks; ++i) {
      EXPECT_EQ(b->block_table[i], a.block_table[i]) << i;
      EXPECT_EQ(m.ref_count(a.block_table[i]), 2) << i;
    }
    // Everything after the shared prefix is private to each sequence.
    for (size_t i = c.want_shared_blocks; i < b->block_table.size(); ++i) {
      EXPECT_EQ(m.ref_count(b->block_table[i]), 1);
      for (BlockId x : a.block_table) EXPECT_NE(b->block_table[i], x);
    }
    const int b_blocks = m.blocks_for_tokens(c.second.size());
    EXPECT_EQ(m.used_blocks(), 3 + b_blocks - c.want_shared_blocks);
  }
}

TEST(KvBlockManager, BlocksArePublishedOnlyOnceComputed) {
  KvBlockManager m(16, 4);
  const Tokens p = range(0, 13);
  ASSERT_TRUE(m.allocate_for_prompt(1, p).has_value());
  EXPECT_EQ(m.match_prefix(p), 0);  // allocated, not computed: nothing to reuse yet
  m.mark_computed(1, 4);            // first prefill chunk
  EXPECT_EQ(m.match_prefix(p), 4);
  m.mark_computed(1, 7);  // block 2 still partial in computed terms
  EXPECT_EQ(m.match_prefix(p), 4);
  m.mark_computed(1, 13);
  EXPECT_EQ(m.match_prefix(p), 12);
}

TEST(KvBlockManager, DecodeAppendsCrossBlockBoundariesAndPublishGeneratedBlocks) {
  KvBlockManager m(8, 4);
  const Tokens prompt = range(0, 3);
  prefill(m, 1, prompt);
  EXPECT_EQ(m.block_table(1).size(), 1u);
  // Generated tokens 50, 51, 52, 53, 54: the 2nd crosses into block 2.
  for (int32_t t = 50; t < 55; ++t) {
    ASSERT_TRUE(m.append_slot(1, t));
    m.mark_computed(1, m.num_tokens(1));
  }
  EXPECT_EQ(m.num_tokens(1), 8);
  EXPECT_EQ(m.block_table(1).size(), 2u);
  ASSERT_TRUE(m.append_slot(1, 55));
  EXPECT_EQ(m.block_table(1).size(), 3u);
  // A follow-up turn that resends prompt + answer reuses both full blocks.
  const Tokens next_turn = concat(concat(prompt, {50, 51, 52, 53, 54}), {7, 7});
  EXPECT_EQ(m.match_prefix(next_turn), 8);
}

TEST(KvBlockManager, FreeDropsReferencesAndKeepsContentCached) {
  KvBlockManager m(8, 4);
  const PromptAllocation a = prefill(m, 1, range(0, 10));
  const PromptAllocation b = prefill(m, 2, range(0, 10));
  EXPECT_EQ(m.ref_count(a.block_table[0]), 2);
  EXPECT_EQ(m.used_blocks(), 4);  // 2 shared + 2 private partial blocks
  m.free(1);
  EXPECT_EQ(m.ref_count(a.block_table[0]), 1);
  EXPECT_EQ(m.ref_count(a.block_table[1]), 1);
  EXPECT_EQ(m.ref_count(a.block_table[2]), 0);
  EXPECT_FALSE(m.is_cached(a.block_table[2]));  // partial: back to the free list
  EXPECT_EQ(m.used_blocks(), 3);
  m.free(2);
  EXPECT_EQ(m.used_blocks(), 0);
  EXPECT_EQ(m.free_blocks(), 8);
  EXPECT_TRUE(m.is_cached(a.block_table[0]));
  EXPECT_TRUE(m.is_cached(a.block_table[1]));
  // Still reusable after every owner left.
  auto c = m.allocate_for_prompt(3, range(0, 9));
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->n_cached_tokens, 8);
  EXPECT_EQ(c->block_table[0], a.block_table[0]);
  EXPECT_EQ(m.ref_count(a.block_table[0]), 1);
}

TEST(KvBlockManager, EvictionIsLeastRecentlyUsedAndTailFirst) {
  // 6 blocks of 4. A = 3 full blocks, B = 2 full blocks (distinct tokens), both freed:
  // A first, then B. LRU order (oldest first): A2 A1 A0 B1 B0. One free-list block remains.
  KvBlockManager m(6, 4);
  const Table a = prefill(m, 1, range(0, 12)).block_table;
  const Table b = prefill(m, 2, range(100, 8)).block_table;
  m.free(1);
  m.free(2);
  ASSERT_EQ(m.free_blocks(), 6);
  // Each new single-block sequence takes one fresh block: the never-used one first, then
  // evicts in LRU order.
  const Table want_order = {5, a[2], a[1], a[0], b[1], b[0]};
  EXPECT_EQ(a, (Table{0, 1, 2}));
  EXPECT_EQ(b, (Table{3, 4}));
  for (size_t i = 0; i < want_order.size(); ++i) {
    auto s = m.allocate_for_prompt(10 + i, Tokens{static_cast<int32_t>(1000 + i)});
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->block_table, Table{want_order[i]}) << i;
    if (i == 2) {
      // A's tail was evicted before its head: A's first block still hits.
      EXPECT_EQ(m.match_prefix(range(0, 12)), 4);
      EXPECT_EQ(m.match_prefix(range(100, 8)), 4);  // B: only 7 tokens may hit, 1 block
    }
  }
  EXPECT_EQ(m.match_prefix(range(0, 12)), 0);
  EXPECT_EQ(m.free_blocks(), 0);
}

TEST(KvBlockManager, HitOnCachedBlockRefreshesIt) {
  // Reusing a cached block takes it out of the LRU; freeing again puts it at the young end.
  KvBlockManager m(3, 4);
  const Table a = prefill(m, 1, range(0, 4)).block_table;   // block 0
  const Table b = prefill(m, 2, range(50, 4)).block_table;  // block 1
  m.free(1);
  m.free(2);                                       // LRU: 0, 1
  auto c = m.allocate_for_prompt(3, range(0, 5));  // hits block 0, fresh block 2
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->block_table, (Table{a[0], 2}));
  m.free(3);  // LRU: 1, then 3's tail (2, unpublished -> free list), then 0
  auto d = m.allocate_for_prompt(4, range(200, 8));  // 2 fresh: free list (2), then LRU (1)
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->block_table, (Table{2, b[0]}));
  EXPECT_EQ(m.match_prefix(range(0, 5)), 4);  // block 0 survived
}

TEST(KvBlockManager, RevivedHitsCountAgainstFreeBlocksAndAreNeverEvictedForThemselves) {
  struct Case {
    const char* name;
    int extra_tokens;  // after the 8 cached tokens
    bool fits;
  };
  for (const Case& c : std::vector<Case>{{"needs 2 fresh", 5, true}, {"needs 3 fresh", 9, false}}) {
    SCOPED_TRACE(c.name);
    // 4 blocks: 3 published (the prompt's 12 tokens) and freed; 1 never used.
    KvBlockManager m(4, 4);
    const Table a = prefill(m, 1, range(0, 12)).block_table;
    m.free(1);
    const Tokens p = concat(range(0, 8), range(500, c.extra_tokens));
    EXPECT_EQ(m.blocks_needed_for_prompt(p), m.blocks_for_tokens(p.size()));
    auto b = m.allocate_for_prompt(2, p);
    EXPECT_EQ(b.has_value(), c.fits);
    if (!b) {
      EXPECT_EQ(m.free_blocks(), 4);  // nothing changed
      EXPECT_EQ(m.match_prefix(range(0, 12)), 8);
      continue;
    }
    // Hits a0 a1, fresh: the never-used block 3, then evicts a2 (not a hit).
    EXPECT_EQ(b->block_table, (Table{a[0], a[1], 3, a[2]}));
    EXPECT_EQ(b->n_cached_tokens, 8);
    EXPECT_EQ(m.free_blocks(), 0);
  }
}

TEST(KvBlockManager, ExhaustionChangesNothing) {
  KvBlockManager m(4, 4);
  ASSERT_TRUE(m.allocate_for_prompt(1, range(0, 12)).has_value());  // 3 blocks
  EXPECT_TRUE(m.can_allocate(1));
  EXPECT_FALSE(m.can_allocate(2));
  EXPECT_FALSE(m.allocate_for_prompt(2, range(100, 5)).has_value());  // needs 2
  EXPECT_FALSE(m.has_sequence(2));
  EXPECT_EQ(m.free_blocks(), 1);
  ASSERT_TRUE(m.allocate_for_prompt(3, range(200, 4)).has_value());  // takes the last one
  EXPECT_TRUE(m.append_slot(3, 1) == false);                         // block full, none free
  EXPECT_EQ(m.num_tokens(3), 4);
  EXPECT_EQ(m.block_table(3).size(), 1u);
  m.free(1);
  EXPECT_TRUE(m.append_slot(3, 1));
  EXPECT_EQ(m.block_table(3).size(), 2u);
}

TEST(KvBlockManager, EqualPromptsComputedTogetherKeepOneCopyPublished) {
  KvBlockManager m(8, 4);
  const Tokens p = range(0, 9);
  auto a = m.allocate_for_prompt(1, p);
  auto b = m.allocate_for_prompt(2, p);  // same step: nothing published yet
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->n_cached_tokens, 0);
  m.mark_computed(1, 9);
  m.mark_computed(2, 9);
  EXPECT_TRUE(m.is_cached(a->block_table[0]));
  EXPECT_FALSE(m.is_cached(b->block_table[0]));
  m.free(2);
  EXPECT_EQ(m.free_blocks(), 8 - 3);
  auto c = m.allocate_for_prompt(3, p);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->block_table[0], a->block_table[0]);
}

TEST(KvBlockManager, PrefixCachingOffNeverShares) {
  KvBlockManager m(8, 4, /*enable_prefix_caching=*/false);
  prefill(m, 1, range(0, 9));
  EXPECT_EQ(m.match_prefix(range(0, 9)), 0);
  auto b = m.allocate_for_prompt(2, range(0, 9));
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->n_cached_tokens, 0);
  EXPECT_EQ(m.used_blocks(), 6);
  EXPECT_EQ(m.prefix_cache_stats().queries, 0);
}

TEST(KvBlockManager, PrefixCacheStatsCountTokens) {
  KvBlockManager m(16, 4);
  prefill(m, 1, range(0, 10));                          // queries 10, hits 0
  ASSERT_TRUE(m.allocate_for_prompt(2, range(0, 10)));  // queries 10, hits 8
  ASSERT_TRUE(m.allocate_for_prompt(3, range(0, 5)));   // queries 5, hits 4
  EXPECT_EQ(m.prefix_cache_stats().queries, 25);
  EXPECT_EQ(m.prefix_cache_stats().hits, 12);
}

TEST(KvBlockManagerDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        KvBlockManager m(4, 4);
        (void)m.allocate_for_prompt(1, range(0, 1));
        (void)m.allocate_for_prompt(1, range(0, 1));
      },
      "check failed");
  EXPECT_DEATH(
      {
        KvBlockManager m(4, 4);
        m.free(7);
      },
      "check failed");
}

}  // namespace
}  // namespace turbine
