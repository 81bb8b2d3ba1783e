#include "engine/runtime/scheduler.h"

#include <algorithm>

namespace turbine {

Scheduler::Scheduler(SchedulerConfig cfg)
    : cfg_(cfg), kv_(cfg.num_blocks, cfg.block_size, cfg.prefix_caching) {
  TURBINE_CHECK(cfg_.max_batch_tokens >= 1 && cfg_.max_running >= 1 && cfg_.max_queue >= 0);
  TURBINE_CHECK(cfg_.watermark_blocks >= 0 && cfg_.watermark_blocks < cfg_.num_blocks);
}

int64_t Scheduler::max_sequence_tokens() const {
  return turbine::max_sequence_tokens(cfg_.admission());
}

std::optional<AdmitError> Scheduler::admit(SequenceRequest req) {
  TURBINE_CHECK(seqs_.count(req.id) == 0);
  const int live = static_cast<int>(waiting_.size() + running_.size());
  if (auto err = check_admission(static_cast<int64_t>(req.prompt.size()), req.max_tokens, live,
                                 cfg_.admission()))
    return err;
  auto s = std::make_unique<Sequence>();
  s->id = req.id;
  s->prompt = std::move(req.prompt);
  s->max_tokens = req.max_tokens;
  s->arrival = req.arrival;
  s->deadline = req.deadline;
  s->order = next_order_++;
  waiting_.push_back(s.get());
  seqs_.emplace(s->id, std::move(s));
  return std::nullopt;
}

bool Scheduler::cancel(SeqId id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return false;
  it->second->cancelled = true;
  return true;
}

const Sequence* Scheduler::find(SeqId id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

void Scheduler::insert_running(Sequence* s) {
  auto pos =
      std::upper_bound(running_.begin(), running_.end(), s,
                       [](const Sequence* a, const Sequence* b) { return a->order < b->order; });
  running_.insert(pos, s);
}

void Scheduler::remove_running(Sequence* s) {
  auto it = std::find(running_.begin(), running_.end(), s);
  TURBINE_CHECK(it != running_.end());
  running_.erase(it);
}

void Scheduler::finish(Sequence* s, FinishReason reason) {
  if (s->status == SeqStatus::kRunning) {
    remove_running(s);
    kv_.free(s->id);
  } else {
    auto it = std::find(waiting_.begin(), waiting_.end(), s);
    TURBINE_CHECK(it != waiting_.end());
    waiting_.erase(it);
  }
  s->status = SeqStatus::kFinished;
  s->finish_reason = reason;
  finished_.push_back(FinishedSeq{s->id, reason, static_cast<int>(s->prompt.size()),
                                  static_cast<int>(s->generated.size()), s->prompt_cached_tokens,
                                  s->num_preemptions});
  seqs_.erase(s->id);
}

void Scheduler::preempt(Sequence* s) {
  TURBINE_CHECK(s->status == SeqStatus::kRunning);
  remove_running(s);
  kv_.free(s->id);
  s->status = SeqStatus::kPreempted;
  s->num_computed = 0;
  s->in_decode = false;
  ++s->num_preemptions;
  ++preemptions_total_;
  waiting_.push_front(s);
}

void Scheduler::reap(SchedClock::time_point now) {
  std::vector<std::pair<Sequence*, FinishReason>> done;
  for (const auto& [id, s] : seqs_) {
    if (s->cancelled) {
      done.emplace_back(s.get(), FinishReason::kCancelled);
    } else if (s->deadline && now >= *s->deadline) {
      done.emplace_back(s.get(), FinishReason::kTimeout);
    }
  }
  // Oldest first, so take_finished() reports in a stable order, not the hash map's.
  std::sort(done.begin(), done.end(),
            [](const auto& a, const auto& b) { return a.first->order < b.first->order; });
  for (auto& [s, reason] : done) finish(s, reason);
}

bool Scheduler::ensure_slots(Sequence* s) {
  while (kv_.num_tokens(s->id) < s->num_tokens()) {
    if (!kv_.append_slot(s->id, s->token_at(kv_.num_tokens(s->id)))) return false;
  }
  return true;
}

void Scheduler::add_chunk(Batch& batch, Sequence* s, int n, bool is_prefill) {
  ScheduledSeq e;
  e.id = s->id;
  e.start_pos = s->num_computed;
  e.tokens.reserve(n);
  for (int i = 0; i < n; ++i) e.tokens.push_back(s->token_at(s->num_computed + i));
  e.block_table = kv_.block_table(s->id);
  e.needs_logits = s->num_computed + n == s->num_tokens();
  e.is_prefill = is_prefill;
  batch.num_tokens += n;
  (is_prefill ? batch.num_prefill_tokens : batch.num_decode_tokens) += n;
  batch.seqs.push_back(std::move(e));
}

Batch Scheduler::step(SchedClock::time_point now) {
  reap(now);
  Batch batch;
  int budget = cfg_.max_batch_tokens;
  bool preempted = false;

  // Decodes, oldest first. Victims come off the back (newest), which this loop has not
  // reached yet, so no sequence already in the batch is ever preempted.
  for (size_t i = 0; i < running_.size() && budget > 0;) {
    Sequence* s = running_[i];
    if (!s->in_decode) {
      ++i;
      continue;
    }
    TURBINE_CHECK(s->num_uncomputed() == 1);
    bool self_preempted = false;
    while (!ensure_slots(s)) {
      Sequence* victim = running_.back();
      preempt(victim);
      preempted = true;
      if (victim == s) {
        self_preempted = true;
        break;
      }
    }
    if (self_preempted) break;  // s was the newest: nothing after it
    add_chunk(batch, s, 1, /*is_prefill=*/false);
    --budget;
    ++i;
  }

  // Prefills already under way continue, oldest first.
  for (Sequence* s : running_) {
    if (budget == 0) break;
    if (s->in_decode) continue;
    TURBINE_CHECK(kv_.num_tokens(s->id) == s->num_tokens());  // allocated in full at admission
    const int n = std::min(s->num_uncomputed(), budget);
    add_chunk(batch, s, n, /*is_prefill=*/true);
    budget -= n;
  }

  // Admission from the waiting queue, strictly FCFS.
  while (!preempted && budget > 0 && !waiting_.empty() &&
         static_cast<int>(running_.size()) < cfg_.max_running) {
    Sequence* s = waiting_.front();
    const std::vector<int32_t> tokens = s->all_tokens();
    if (kv_.blocks_needed_for_prompt(tokens) + cfg_.watermark_blocks > kv_.free_blocks()) break;
    std::optional<PromptAllocation> alloc = kv_.allocate_for_prompt(s->id, tokens);
    TURBINE_CHECK(alloc.has_value());
    waiting_.pop_front();
    s->num_computed = alloc->n_cached_tokens;
    if (!s->first_scheduled) {
      s->first_scheduled = now;
      s->prompt_cached_tokens = std::min<int>(alloc->n_cached_tokens, s->prompt.size());
    }
    s->status = SeqStatus::kRunning;
    insert_running(s);
    const int n = std::min(s->num_uncomputed(), budget);
    add_chunk(batch, s, n, /*is_prefill=*/true);
    budget -= n;
  }
  return batch;
}

void Scheduler::on_step_done(const Batch& batch, std::span<const SampledToken> sampled) {
  TURBINE_CHECK(sampled.size() == batch.seqs.size());
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const ScheduledSeq& e = batch.seqs[i];
    auto it = seqs_.find(e.id);
    TURBINE_CHECK(it != seqs_.end());
    Sequence* s = it->second.get();
    TURBINE_CHECK(s->status == SeqStatus::kRunning && s->num_computed == e.start_pos);
    s->num_computed += static_cast<int>(e.tokens.size());
    kv_.mark_computed(s->id, s->num_computed);
    if (!e.needs_logits) continue;
    TURBINE_CHECK(sampled[i].token >= 0);
    s->generated.push_back(sampled[i].token);
    s->in_decode = true;
    if (sampled[i].stop) {
      finish(s, FinishReason::kStop);
    } else if (static_cast<int>(s->generated.size()) >= s->max_tokens ||
               (cfg_.max_model_len > 0 && s->num_tokens() >= cfg_.max_model_len)) {
      finish(s, FinishReason::kLength);
    }
  }
}

std::vector<FinishedSeq> Scheduler::take_finished() {
  std::vector<FinishedSeq> out;
  out.swap(finished_);
  return out;
}

SchedulerStats Scheduler::stats() const {
  SchedulerStats st;
  st.waiting = static_cast<int>(waiting_.size());
  st.running = static_cast<int>(running_.size());
  auto unprefilled = [](const Sequence* s) {
    return s->in_decode ? 0 : std::max(0, s->num_tokens() - s->num_computed);
  };
  for (const Sequence* s : waiting_) st.prefill_tokens_waiting += unprefilled(s);
  for (const Sequence* s : running_) st.prefill_tokens_waiting += unprefilled(s);
  st.kv_usage = kv_.usage();
  st.free_blocks = kv_.free_blocks();
  st.used_blocks = kv_.used_blocks();
  st.total_blocks = kv_.num_blocks();
  st.block_size = kv_.block_size();
  st.preemptions_total = preemptions_total_;
  st.prefix_cache_queries = kv_.prefix_cache_stats().queries;
  st.prefix_cache_hits = kv_.prefix_cache_stats().hits;
  return st;
}

std::vector<SeqId> Scheduler::waiting_ids() const {
  std::vector<SeqId> ids;
  for (const Sequence* s : waiting_) ids.push_back(s->id);
  return ids;
}

std::vector<SeqId> Scheduler::running_ids() const {
  std::vector<SeqId> ids;
  for (const Sequence* s : running_) ids.push_back(s->id);
  return ids;
}

}  // namespace turbine
