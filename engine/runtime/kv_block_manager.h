// The paged KV cache's bookkeeping: which fixed-size block of the pool holds which tokens of
// which sequence. No tensors here; the model reads the block tables this produces.
//
// Prefix caching (automatic, as vLLM's): each FULL block whose KV has been computed gets a
// hash chained from its parent, hash(parent_hash, its block_size token ids), so equal
// hashes mean equal whole prefixes. A new sequence walks its prompt block by block and
// takes a reference on every cached block of its prefix instead of recomputing it. Full
// blocks are immutable and the partially filled last block is always private, so sharing
// needs no copy-on-write.
//
// Block states:
//   free list   never used, or evicted: content is garbage, handed out first
//   referenced  refcount > 0, in some sequence's table (maybe also in the hash index)
//   cached      refcount 0 but still in the hash index: reusable by hash, and evictable.
//               Kept in an LRU; a fresh block comes from the free list, then from the
//               LRU's oldest end (dropping its hash). "Free blocks" counts free + cached.
//
// A block enters the hash index only when mark_computed() says its tokens' KV exists, never
// at allocation: with chunked prefill a prompt's later blocks are allocated steps before
// they are computed, and a sequence that matched them in between would read garbage.
//
// Lookups verify the token ids and parent hash stored with the block, so a 64-bit hash
// collision cannot silently splice another prompt's KV into a sequence.
//
// Prefix-cache statistics are in tokens (as vLLM's): queries = prompt tokens looked up in
// allocate_for_prompt, hits = of those, tokens served from the cache.
#pragma once
#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace turbine {

using SeqId = int64_t;
using BlockId = int32_t;

struct PromptAllocation {
  std::vector<BlockId> block_table;
  // Leading tokens whose KV is already in the cache: a multiple of block_size, and at most
  // tokens.size() - 1, because the last token must still run to produce logits.
  int n_cached_tokens = 0;
};

struct PrefixCacheStats {
  int64_t queries = 0;  // tokens
  int64_t hits = 0;     // tokens
};

class KvBlockManager {
 public:
  KvBlockManager(int num_blocks, int block_size, bool enable_prefix_caching = true);

  int num_blocks() const { return num_blocks_; }
  int block_size() const { return block_size_; }
  // Blocks a fresh allocation could get now: never used + cached-but-unreferenced.
  int free_blocks() const { return static_cast<int>(free_list_.size() + lru_.size()); }
  // Blocks referenced by at least one sequence.
  int used_blocks() const { return num_blocks_ - free_blocks(); }
  // used / total, 0..1 (cached-but-unreferenced blocks count as free: they can be evicted).
  double usage() const;
  bool can_allocate(int n_blocks) const { return n_blocks <= free_blocks(); }
  int blocks_for_tokens(int64_t n_tokens) const {
    return static_cast<int>((n_tokens + block_size_ - 1) / block_size_);
  }

  // Cached prefix length (tokens) that allocate_for_prompt would reuse; no side effects.
  int match_prefix(std::span<const int32_t> tokens) const;
  // Free blocks allocate_for_prompt would consume: fresh ones plus cached hits that sit in
  // the LRU (taking a reference removes them from the free count). No side effects.
  int blocks_needed_for_prompt(std::span<const int32_t> tokens) const;

  // Gives sequence `id` (not yet known here) slots for all of `tokens`, reusing its cached
  // prefix. nullopt, with nothing changed, when there are not enough free blocks.
  std::optional<PromptAllocation> allocate_for_prompt(SeqId id, std::span<const int32_t> tokens);
  // Gives the sequence a slot for one more token (a new block when the last one is full).
  // false, with nothing changed, when no block is free: the caller preempts someone.
  bool append_slot(SeqId id, int32_t token);
  // The first `n_computed` tokens of the sequence now have KV: publish its full blocks in
  // the prefix cache.
  void mark_computed(SeqId id, int n_computed);
  // Drops the sequence's references. Its published blocks become cached (LRU, the block
  // furthest into the sequence first, so a prefix outlives its suffixes); the rest go to
  // the free list.
  void free(SeqId id);

  bool has_sequence(SeqId id) const { return seqs_.count(id) != 0; }
  const std::vector<BlockId>& block_table(SeqId id) const;
  // Slots held by the sequence (tokens it has been given room for).
  int num_tokens(SeqId id) const;

  int ref_count(BlockId b) const { return blocks_[b].ref_count; }
  bool is_cached(BlockId b) const { return blocks_[b].in_index; }
  const PrefixCacheStats& prefix_cache_stats() const { return stats_; }

 private:
  struct Block {
    int ref_count = 0;
    bool in_index = false;  // published in hash_index_ (its hash maps to this block)
    uint64_t hash = 0;
    uint64_t parent_hash = 0;
    std::vector<int32_t> tokens;  // block_size ids when published, for collision checks
    std::list<BlockId>::iterator lru_pos;
    bool in_lru = false;
  };
  struct SeqState {
    std::vector<BlockId> table;
    std::vector<int32_t> tokens;
    std::vector<uint64_t> hashes;  // chain hash of each leading full, computed block
  };

  static uint64_t chain_hash(uint64_t parent, std::span<const int32_t> tokens);
  // The published block holding `block_tokens` after the chain `parent`, or -1; sets *hash.
  BlockId lookup(uint64_t parent, std::span<const int32_t> block_tokens, uint64_t* hash) const;
  // Leading cached blocks of `tokens` (bounded by tokens.size() - 1 tokens).
  std::vector<BlockId> matched_blocks(std::span<const int32_t> tokens,
                                      std::vector<uint64_t>* hashes) const;
  BlockId take_fresh_block();
  void take_reference(BlockId b);
  void release(BlockId b);

  const int num_blocks_;
  const int block_size_;
  const bool prefix_caching_;
  std::vector<Block> blocks_;
  std::deque<BlockId> free_list_;  // front is handed out first
  std::list<BlockId> lru_;         // front is evicted first
  std::unordered_map<uint64_t, BlockId> hash_index_;
  std::unordered_map<SeqId, SeqState> seqs_;
  PrefixCacheStats stats_;
};

}  // namespace turbine
