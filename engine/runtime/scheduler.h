// The continuous-batching scheduler: decides, once per engine step, which tokens of which
// sequences the model computes. A plain object: no model, no threads, no clock of its own
// (callers pass `now`), so it is tested with table-driven cases.
//
// Policy, in the order step() applies it:
//  1. Reap: cancelled sequences and those past their deadline finish ("cancelled",
//     "timeout") and free their blocks, whether waiting or running.
//  2. Decodes first: every running sequence with one token left to compute gets a slot
//     (a new block at a boundary) and one token of budget, oldest first. When no block is
//     free, the NEWEST running sequence is preempted by recompute (blocks freed, pushed to
//     the front of the waiting queue with its generated tokens kept) until the slot fits;
//     if the sequence needing the slot is itself the newest, it is the one preempted.
//     Newest-first keeps the work already invested in old sequences and approximates FCFS.
//  3. Running prefills continue (chunked) within the remaining budget, oldest first.
//  4. Waiting sequences are admitted strictly FCFS while the budget, max_running and KV
//     blocks allow: the head's blocks for ALL its tokens are allocated at once (a prefill
//     then never stalls half-way for memory), its cached prefix is skipped, and a first
//     chunk is scheduled. If the head does not fit, nothing behind it jumps the queue.
//     No admission happens in a step that preempted: the freed blocks would only be handed
//     to a newcomer and the preempted sequence would starve (and the pool thrash).
//
// Admission control (admit) is check_admission (runtime/admission.h), the same check
// Engine::submit makes.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/runtime/admission.h"
#include "engine/runtime/finish_reason.h"
#include "engine/runtime/kv_block_manager.h"
#include "engine/runtime/sequence.h"

namespace turbine {

struct SchedulerConfig {
  int num_blocks = 0;
  int block_size = 16;
  int max_batch_tokens = 512;  // tokens per step, decodes + prefill chunks; >= max_running
  int max_running = 64;        // sequences holding KV blocks at once
  int max_queue = 256;         // queued sequences (beyond max_running) before queue full
  int max_model_len = 0;       // prompt + max_tokens limit (0: only the pool bounds it)
  int watermark_blocks = 0;    // blocks kept free when admitting, as headroom for decodes
  bool prefix_caching = true;

  AdmissionLimits admission() const {
    return {max_model_len, int64_t{num_blocks} * block_size, max_running, max_queue};
  }
};

struct SequenceRequest {
  SeqId id = 0;  // chosen by the caller, unique among live sequences
  std::vector<int32_t> prompt;
  int max_tokens = 16;
  SchedClock::time_point arrival{};
  std::optional<SchedClock::time_point> deadline;
};

// One sequence's share of a step: everything the model needs.
struct ScheduledSeq {
  SeqId id = 0;
  std::vector<int32_t> tokens;       // token ids to compute this step
  int start_pos = 0;                 // position of tokens[0]; the KV of [0, start_pos) exists
  std::vector<BlockId> block_table;  // covers at least start_pos + tokens.size() slots
  // Logits wanted for the LAST of `tokens`: a decode, or the prefill chunk that completes
  // the sequence's tokens. Other tokens never need logits.
  bool needs_logits = false;
  bool is_prefill = false;  // false: a decode (one token after a completed prefill)
  int context_len() const { return start_pos + static_cast<int>(tokens.size()); }
};

struct Batch {
  std::vector<ScheduledSeq> seqs;  // decodes first, then prefill chunks
  int num_tokens = 0;
  int num_prefill_tokens = 0;
  int num_decode_tokens = 0;
  bool empty() const { return seqs.empty(); }
};

// What the model's sampler produced for one ScheduledSeq (same index). Ignored for entries
// without needs_logits. `stop`: the caller saw EOS or a stop sequence; the token is still
// appended (it counts as a completion token) and the sequence finishes with "stop".
struct SampledToken {
  int32_t token = -1;
  bool stop = false;
};

struct FinishedSeq {
  SeqId id = 0;
  FinishReason reason = FinishReason::kStop;  // never kError: failures are the engine's
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;  // prompt tokens served from the prefix cache
  int num_preemptions = 0;
};

struct SchedulerStats {
  int waiting = 0;  // including preempted
  int running = 0;
  // Tokens of live sequences whose prefill is still to compute: queued prompts, the rest of
  // running prompts, and prompt + generated again after a preemption (the autoscaler's
  // measure of prompt-heavy load: long prompts fill the queue time, not the batch).
  int64_t prefill_tokens_waiting = 0;
  double kv_usage = 0;
  int free_blocks = 0;
  int used_blocks = 0;
  int total_blocks = 0;
  int block_size = 0;
  int64_t preemptions_total = 0;
  int64_t prefix_cache_queries = 0;  // tokens
  int64_t prefix_cache_hits = 0;     // tokens
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerConfig cfg);

  // nullopt: queued. The message is meant for the API user.
  std::optional<AdmitError> admit(SequenceRequest req);
  // Marks a live sequence cancelled; the next step() finishes it and frees its blocks.
  // false when no such sequence is live.
  bool cancel(SeqId id);

  Batch step(SchedClock::time_point now);
  // After the model ran `batch` (the last one step() returned): advances every sequence by
  // its computed tokens, publishes full blocks in the prefix cache, appends sampled tokens,
  // finishes sequences ("stop" by the caller's flag, "length" by max_tokens/context).
  // `sampled` has one entry per batch.seqs entry.
  void on_step_done(const Batch& batch, std::span<const SampledToken> sampled);

  // Sequences finished since the last call (by step() or on_step_done()); they are gone
  // from the scheduler and their blocks are freed.
  std::vector<FinishedSeq> take_finished();

  const Sequence* find(SeqId id) const;
  SchedulerStats stats() const;
  bool has_work() const { return !waiting_.empty() || !running_.empty(); }
  // The most tokens (prompt + max_tokens) one request can ever be given.
  int64_t max_sequence_tokens() const;
  const KvBlockManager& block_manager() const { return kv_; }
  const SchedulerConfig& config() const { return cfg_; }
  // Live sequence ids in queue order (tests and /load debugging).
  std::vector<SeqId> waiting_ids() const;
  std::vector<SeqId> running_ids() const;

 private:
  void finish(Sequence* s, FinishReason reason);  // erases s
  void preempt(Sequence* s);
  void reap(SchedClock::time_point now);
  bool ensure_slots(Sequence* s);  // slots for all of s's tokens; false if out of blocks
  void insert_running(Sequence* s);
  void remove_running(Sequence* s);
  void add_chunk(Batch& batch, Sequence* s, int n, bool is_prefill);

  SchedulerConfig cfg_;
  KvBlockManager kv_;
  std::unordered_map<SeqId, std::unique_ptr<Sequence>> seqs_;
  std::deque<Sequence*> waiting_;   // front is scheduled first
  std::vector<Sequence*> running_;  // sorted by order: back is the newest
  std::vector<FinishedSeq> finished_;
  uint64_t next_order_ = 0;
  int64_t preemptions_total_ = 0;
};

}  // namespace turbine
