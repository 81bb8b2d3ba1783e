#include "sidecar/sim_replica.h"

#include <algorithm>

namespace turbine::autoscaler {

long SimReplica::prompt_tokens_waiting() const {
  long n = 0;
  for (const SimRequest* r : waiting_) n += (r->prefill_target ? r->prefill_target : r->prompt) - r->prefilled;
  for (const SimRequest* r : running_) n += r->prefill_target - r->prefilled;
  return n;
}

void SimReplica::admit() {
  while (!waiting_.empty() && static_cast<int>(running_.size()) < m_.max_batch) {
    SimRequest* r = waiting_.front();
    if (r->prefill_target == 0) r->prefill_target = r->prompt;
    // Admission reserves the prompt's KV; a request that can never fit still runs alone
    // (the engine's admission would have rejected it; the trace generator avoids them).
    if (kv_used_ + r->prefill_target > m_.kv_tokens && !running_.empty()) break;
    waiting_.pop_front();
    if (!r->admitted) prompt_tokens_ += r->prompt;
    r->admitted = true;
    r->kv = r->prefill_target;
    kv_used_ += r->kv;
    running_.push_back(r);
  }
}

void SimReplica::advance_to(double t) {
  while (clock_ < t) {
    if (clock_ < ready_at_) {
      clock_ = std::min(t, ready_at_);
      continue;
    }
    admit();
    if (running_.empty()) {
      clock_ = t;
      return;
    }
    // The engine's token budget per iteration covers the decodes first (one token each),
    // then prefill chunks, oldest first.
    int decoders = 0;
    for (const SimRequest* r : running_) decoders += r->prefilled >= r->prefill_target;
    int budget = std::max(0, m_.prefill_chunk - decoders);
    int prefill_tokens = 0, decoding = 0;
    double prefill_pairs = 0, decode_context = 0;  // attention work of this iteration
    std::vector<bool> emits(running_.size(), false);
    for (size_t i = 0; i < running_.size(); ++i) {
      SimRequest* r = running_[i];
      if (r->prefilled < r->prefill_target) {
        int take = std::min(budget, r->prefill_target - r->prefilled);
        prefill_pairs += take * (r->prefilled + 0.5 * take);
        r->prefilled += take;
        budget -= take;
        prefill_tokens += take;
        emits[i] = r->prefilled == r->prefill_target;  // the last chunk yields a token
      } else {
        ++decoding;
        decode_context += r->kv;
        emits[i] = true;
      }
    }
    double dt = m_.step_fixed_s + m_.step_per_seq_s * decoding +
                m_.prefill_per_token_s * prefill_tokens + m_.prefill_attention_s * prefill_pairs +
                m_.decode_attention_s * decode_context;
    clock_ += dt;
    busy_s_ += dt;
    occupied_s_ += dt * std::min(1.0, static_cast<double>(running_.size()) / m_.max_batch);
    std::vector<SimRequest*> still;
    still.reserve(running_.size());
    for (size_t i = 0; i < running_.size(); ++i) {
      SimRequest* r = running_[i];
      if (emits[i]) {
        if (r->generated == 0 && r->first_token < 0) r->first_token = clock_;
        ++r->generated;
        ++r->kv;
        ++kv_used_;
      }
      if (r->generated >= r->output) {
        r->done = clock_;
        ++finished_;
        kv_used_ -= r->kv;
        r->kv = 0;
      } else {
        still.push_back(r);
      }
    }
    running_ = std::move(still);
    // Out of KV: preempt the newest sequences (recompute later), as the engine does.
    while (kv_used_ > m_.kv_tokens && running_.size() > 1) {
      SimRequest* v = running_.back();
      running_.pop_back();
      kv_used_ -= v->kv;
      v->kv = 0;
      v->prefill_target = v->prompt + v->generated;
      v->prefilled = 0;
      waiting_.push_front(v);
      ++preemptions_;
    }
  }
}

}  // namespace turbine::autoscaler
