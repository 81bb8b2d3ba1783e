#include "engine/runtime/kv_block_manager.h"

#include <algorithm>

#include "base/result.h"

namespace turbine {

namespace {

// splitmix64's finalizer: a cheap full-avalanche mix, so chaining token ids one at a time
// still spreads every bit of every id over the whole hash.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

constexpr uint64_t kRootHash = 0x9e3779b97f4a7c15ULL;  // parent hash of a sequence's first block

}  // namespace

KvBlockManager::KvBlockManager(int num_blocks, int block_size, bool enable_prefix_caching)
    : num_blocks_(num_blocks),
      block_size_(block_size),
      prefix_caching_(enable_prefix_caching),
      blocks_(num_blocks) {
  TURBINE_CHECK(num_blocks > 0 && block_size > 0);
  for (BlockId b = 0; b < num_blocks; ++b) free_list_.push_back(b);
}

double KvBlockManager::usage() const {
  return static_cast<double>(used_blocks()) / static_cast<double>(num_blocks_);
}

uint64_t KvBlockManager::chain_hash(uint64_t parent, std::span<const int32_t> tokens) {
  uint64_t h = mix(parent ^ 0x6a09e667f3bcc909ULL);
  for (int32_t t : tokens) h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 1));
  return h;
}

BlockId KvBlockManager::lookup(uint64_t parent, std::span<const int32_t> block_tokens,
                               uint64_t* hash) const {
  const uint64_t h = chain_hash(parent, block_tokens);
  *hash = h;
  auto it = hash_index_.find(h);
  if (it == hash_index_.end()) return -1;
  const Block& b = blocks_[it->second];
  if (b.parent_hash != parent ||
      !std::equal(b.tokens.begin(), b.tokens.end(), block_tokens.begin(), block_tokens.end())) {
    return -1;  // a hash collision: treat as a miss
  }
  return it->second;
}

std::vector<BlockId> KvBlockManager::matched_blocks(std::span<const int32_t> tokens,
                                                    std::vector<uint64_t>* hashes) const {
  std::vector<BlockId> hit;
  if (!prefix_caching_ || tokens.empty()) return hit;
  // The last token must be computed to get logits, so only blocks entirely within the first
  // size - 1 tokens may hit. (A whole-prompt hit would otherwise need a write into a shared,
  // immutable block.)
  const size_t max_blocks = (tokens.size() - 1) / block_size_;
  uint64_t parent = kRootHash;
  for (size_t i = 0; i < max_blocks; ++i) {
    uint64_t h;
    BlockId b = lookup(parent, tokens.subspan(i * block_size_, block_size_), &h);
    if (b < 0) break;
    hit.push_back(b);
    if (hashes) hashes->push_back(h);
    parent = h;
  }
  return hit;
}

int KvBlockManager::match_prefix(std::span<const int32_t> tokens) const {
  return static_cast<int>(matched_blocks(tokens, nullptr).size()) * block_size_;
}

int KvBlockManager::blocks_needed_for_prompt(std::span<const int32_t> tokens) const {
  const std::vector<BlockId> hit = matched_blocks(tokens, nullptr);
  int revived = 0;
  for (BlockId b : hit) revived += blocks_[b].ref_count == 0 ? 1 : 0;
  return blocks_for_tokens(static_cast<int64_t>(tokens.size())) - static_cast<int>(hit.size()) +
         revived;
}

BlockId KvBlockManager::take_fresh_block() {
  BlockId b;
  if (!free_list_.empty()) {
    b = free_list_.front();
    free_list_.pop_front();
  } else {
    TURBINE_CHECK(!lru_.empty());
    b = lru_.front();
    lru_.pop_front();
    Block& victim = blocks_[b];
    victim.in_lru = false;
    TURBINE_CHECK(victim.in_index);
    hash_index_.erase(victim.hash);
    victim.in_index = false;
    victim.tokens.clear();
  }
  Block& blk = blocks_[b];
  TURBINE_CHECK(blk.ref_count == 0 && !blk.in_index);
  blk.ref_count = 1;
  return b;
}

void KvBlockManager::take_reference(BlockId b) {
  Block& blk = blocks_[b];
  if (blk.in_lru) {
    lru_.erase(blk.lru_pos);
    blk.in_lru = false;
  }
  ++blk.ref_count;
}

void KvBlockManager::release(BlockId b) {
  Block& blk = blocks_[b];
  TURBINE_CHECK(blk.ref_count > 0);
  if (--blk.ref_count > 0) return;
  if (blk.in_index) {
    blk.lru_pos = lru_.insert(lru_.end(), b);
    blk.in_lru = true;
  } else {
    free_list_.push_back(b);
  }
}

std::optional<PromptAllocation> KvBlockManager::allocate_for_prompt(
    SeqId id, std::span<const int32_t> tokens) {
  TURBINE_CHECK(seqs_.count(id) == 0);
  TURBINE_CHECK(!tokens.empty());
  SeqState st;
  const std::vector<BlockId> hit = matched_blocks(tokens, &st.hashes);
  int revived = 0;
  for (BlockId b : hit) revived += blocks_[b].ref_count == 0 ? 1 : 0;
  const int total = blocks_for_tokens(static_cast<int64_t>(tokens.size()));
  const int fresh = total - static_cast<int>(hit.size());
  if (!can_allocate(fresh + revived)) return std::nullopt;

  // References on the hits first: a revived hit must leave the LRU before fresh blocks are
  // taken, or eviction could pick the very block we are about to reuse.
  for (BlockId b : hit) take_reference(b);
  st.table = hit;
  for (int i = 0; i < fresh; ++i) st.table.push_back(take_fresh_block());
  st.tokens.assign(tokens.begin(), tokens.end());

  PromptAllocation out;
  out.block_table = st.table;
  out.n_cached_tokens = static_cast<int>(hit.size()) * block_size_;
  if (prefix_caching_) {
    stats_.queries += static_cast<int64_t>(tokens.size());
    stats_.hits += out.n_cached_tokens;
  }
  seqs_.emplace(id, std::move(st));
  return out;
}

bool KvBlockManager::append_slot(SeqId id, int32_t token) {
  auto it = seqs_.find(id);
  TURBINE_CHECK(it != seqs_.end());
  SeqState& st = it->second;
  if (st.tokens.size() == st.table.size() * static_cast<size_t>(block_size_)) {
    if (free_blocks() == 0) return false;
    st.table.push_back(take_fresh_block());
  }
  st.tokens.push_back(token);
  return true;
}

void KvBlockManager::mark_computed(SeqId id, int n_computed) {
  auto it = seqs_.find(id);
  TURBINE_CHECK(it != seqs_.end());
  SeqState& st = it->second;
  TURBINE_CHECK(n_computed >= 0 && static_cast<size_t>(n_computed) <= st.tokens.size());
  if (!prefix_caching_) return;
  const size_t full = static_cast<size_t>(n_computed) / block_size_;
  const std::span<const int32_t> all(st.tokens);
  while (st.hashes.size() < full) {
    const size_t i = st.hashes.size();
    const uint64_t parent = i == 0 ? kRootHash : st.hashes[i - 1];
    const std::span<const int32_t> toks = all.subspan(i * block_size_, block_size_);
    const uint64_t h = chain_hash(parent, toks);
    st.hashes.push_back(h);
    // Another sequence may have computed the same block first (two equal prompts admitted
    // together); keep its copy in the index and leave ours private.
    if (hash_index_.count(h)) continue;
    Block& blk = blocks_[st.table[i]];
    TURBINE_CHECK(!blk.in_index);
    blk.in_index = true;
    blk.hash = h;
    blk.parent_hash = parent;
    blk.tokens.assign(toks.begin(), toks.end());
    hash_index_.emplace(h, st.table[i]);
  }
}

void KvBlockManager::free(SeqId id) {
  auto it = seqs_.find(id);
  TURBINE_CHECK(it != seqs_.end());
  const std::vector<BlockId>& table = it->second.table;
  // Last block first: the LRU then evicts a sequence's tail before its prefix, and prefixes
  // are what other requests share.
  for (auto b = table.rbegin(); b != table.rend(); ++b) release(*b);
  seqs_.erase(it);
}

const std::vector<BlockId>& KvBlockManager::block_table(SeqId id) const {
  auto it = seqs_.find(id);
  TURBINE_CHECK(it != seqs_.end());
  return it->second.table;
}

int KvBlockManager::num_tokens(SeqId id) const {
  auto it = seqs_.find(id);
  TURBINE_CHECK(it != seqs_.end());
  return static_cast<int>(it->second.tokens.size());
}

}  // namespace turbine
