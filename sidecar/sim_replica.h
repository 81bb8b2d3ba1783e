// One engine replica in the simulator, modelled at the level the autoscaler can observe:
// continuous batching in iterations (each decodes one token for every running sequence
// plus a chunk of prefill), a KV budget in tokens with preemption-by-recompute when it
// runs out, a waiting queue, and a start-up delay before it is ready. Iteration time is
// fixed + per-sequence + per-prefill-token, plus attention terms that grow with the context
// each token attends to; it reproduces the facts that matter for scaling: throughput
// saturates with batch size, prefill competes with decode, and long prompts cost more than
// their length (bench/validate-replica checks this against a real server).
#pragma once
#include <deque>
#include <utility>
#include <vector>

namespace turbine::autoscaler {

struct ReplicaModel {
  int max_batch = 32;
  int kv_tokens = 24000;
  int prefill_chunk = 512;         // tokens per iteration, decodes first (--max-batch-tokens)
  double step_fixed_s = 0.020;     // weights streamed once per iteration
  double step_per_seq_s = 0.0005;  // attention + sampling per running sequence
  double prefill_per_token_s = 0.00015;
  // Attention: seconds per (token computed × earlier context token it attends to). A
  // prompt of n tokens costs prefill_attention_s × n²/2 on top of its linear part; a
  // decoding sequence with c tokens of context adds decode_attention_s × c to its step.
  double prefill_attention_s = 0;
  double decode_attention_s = 0;
  double startup_s = 60;  // pod scheduled -> model loaded -> ready
};

struct SimRequest {
  double arrival = 0;
  int prompt = 0;
  int output = 0;
  int prefill_target = 0;  // prompt (+ generated tokens after a preemption)
  int prefilled = 0;
  int generated = 0;
  int kv = 0;  // KV tokens held
  bool admitted = false;  // once: the engine counts a prompt at its first admission
  double first_token = -1;
  double done = -1;
};

class SimReplica {
 public:
  SimReplica(const ReplicaModel& model, double created_at)
      : m_(model), ready_at_(created_at + model.startup_s), clock_(created_at) {}

  bool ready(double now) const { return !draining_ && now >= ready_at_; }
  bool starting(double now) const { return !draining_ && now < ready_at_; }
  bool draining() const { return draining_; }
  // Draining: no new requests; gone once the running ones finish.
  void drain() { draining_ = true; }
  bool gone() const { return draining_ && running_.empty() && waiting_.empty(); }

  void enqueue(SimRequest* r) { waiting_.push_back(r); }
  std::deque<SimRequest*> take_waiting() { return std::exchange(waiting_, {}); }

  // Runs iterations until the replica's clock reaches `t`.
  void advance_to(double t);

  int waiting() const { return static_cast<int>(waiting_.size()); }
  int running() const { return static_cast<int>(running_.size()); }
  double kv_usage() const { return static_cast<double>(kv_used_) / m_.kv_tokens; }
  double busy_seconds() const { return busy_s_; }
  // Seconds weighted by the batch's share of max_batch: the compute a replica spends as a
  // fraction of what it could do at a full batch (what "utilisation" means to the baseline).
  double occupied_seconds() const { return occupied_s_; }
  long preemptions() const { return preemptions_; }
  // The counters and gauge a real engine exports: turbine_requests_total (finished),
  // turbine_prompt_tokens_total (prompt tokens of admitted requests, each once) and turbine_prompt_tokens_waiting
  // (prompt tokens admitted or queued but not prefilled yet).
  long finished() const { return finished_; }
  long prompt_tokens() const { return prompt_tokens_; }
  long prompt_tokens_waiting() const;

 private:
  void admit();

  const ReplicaModel& m_;
  double ready_at_;
  double clock_;
  bool draining_ = false;
  std::deque<SimRequest*> waiting_;
  std::vector<SimRequest*> running_;
  int kv_used_ = 0;
  double busy_s_ = 0;
  double occupied_s_ = 0;
  long preemptions_ = 0;
  long finished_ = 0;
  long prompt_tokens_ = 0;
};

}  // namespace turbine::autoscaler
