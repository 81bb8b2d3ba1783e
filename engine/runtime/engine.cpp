#include "engine/runtime/engine.h"

#include <algorithm>
#include <random>
#include <unordered_map>

#include "base/log.h"
#include "engine/runtime/engine_metrics.h"
#include "engine/runtime/scheduler.h"
#include "engine/sampling/sampler.h"
#include "engine/sampling/stop_matcher.h"
#include "engine/tokenizer/stream_detokenizer.h"

namespace turbine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

struct Engine::Impl {
  // A request as the loop thread keeps it; HTTP threads never see this.
  struct Request {
    SeqId id = 0;
    GenerationSpec spec;
    std::shared_ptr<RequestChannel> ch;
    Sampler sampler;
    StreamDetokenizer detok;
    StopMatcher stop;
    std::optional<grammar::GrammarMatcher> matcher;
    Clock::time_point arrival;
    std::optional<Clock::time_point> first_token, last_token;
    bool seen_in_batch = false;
    bool cancel_sent = false;

    Request(SeqId i, GenerationSpec s, std::shared_ptr<RequestChannel> c, uint64_t seed,
            const Tokenizer& tok, Clock::time_point now)
        : id(i),
          spec(std::move(s)),
          ch(std::move(c)),
          sampler(spec.sampling, seed),
          detok(tok),
          stop(spec.sampling.stop),
          arrival(now) {
      sampler.accept_prompt(spec.prompt);
      if (spec.grammar) matcher.emplace(spec.grammar);
    }
  };
  struct Pending {
    GenerationSpec spec;
    std::shared_ptr<RequestChannel> ch;
    Clock::time_point arrival;
  };

  Impl(LlamaModel& m, const Tokenizer& t, const EngineConfig& c, EngineMetrics* em,
       int num_blocks, int max_len)
      : model(m),
        tok(t),
        cfg(c),
        metrics(em),
        kv(m.backend(), m.config().n_layers, m.kv_geometry(num_blocks, c.block_size)),
        sched(SchedulerConfig{.num_blocks = num_blocks,
                              .block_size = c.block_size,
                              .max_batch_tokens = std::max(c.max_batch_tokens, c.max_running),
                              .max_running = c.max_running,
                              .max_queue = c.max_queue,
                              .max_model_len = max_len,
                              .watermark_blocks = 0,
                              .prefix_caching = c.prefix_caching}),
        seeds(std::random_device{}()) {}

  void run();
  void admit_pending();
  void check_cancellations();
  void step();
  enum class DeviceDraw { kNone, kArgmax, kSample };
  DeviceDraw device_draw(const Batch& batch) const;
  void sample_batch(const Batch& batch, const std::vector<float>* logits,
                    const std::vector<int32_t>* ids,
                    std::vector<SampledToken>& sampled);
  void finish_done();
  void publish_load();
  void fail_all(const std::string& reason);

  LlamaModel& model;
  const Tokenizer& tok;
  EngineConfig cfg;
  EngineMetrics* metrics;
  KvPool kv;
  Scheduler sched;
  std::mt19937_64 seeds;
  std::unordered_map<SeqId, std::unique_ptr<Request>> requests;  // loop thread only
  SeqId next_id = 1;
  int64_t max_seq_tokens = 0;
  int64_t last_preemptions = 0, last_prefix_queries = 0, last_prefix_hits = 0;

  // Shared with HTTP threads.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> pending;
  bool stopping = false;
  std::atomic<int> in_flight{0};
  std::atomic<int64_t> heartbeat_ns{0};
  std::atomic<bool> idle{true};
  mutable std::mutex load_mu;
  LoadSnapshot load;
  std::thread thread;
};

Engine::Engine(LlamaModel& model, const Tokenizer& tokenizer, EngineConfig cfg,
               EngineMetrics* metrics)
    : cfg_(cfg) {
  TURBINE_CHECK(cfg.block_size > 0);
  const LlamaConfig& mc = model.config();
  int num_blocks = cfg.num_blocks;
  if (num_blocks <= 0) {
    const size_t per_block =
        KvPool::bytes_per_token(mc.n_layers, model.kv_geometry(1, cfg.block_size)) *
        static_cast<size_t>(cfg.block_size);
    num_blocks = static_cast<int>(std::max<size_t>(1, cfg.kv_cache_bytes / per_block));
  }
  cfg_.num_blocks = num_blocks;
  const int64_t pool_tokens = int64_t{num_blocks} * cfg.block_size;
  const int max_len = static_cast<int>(std::min<int64_t>(mc.context_length, pool_tokens));
  impl_ = std::make_unique<Impl>(model, tokenizer, cfg_, metrics, num_blocks, max_len);
  impl_->max_seq_tokens = impl_->sched.max_sequence_tokens();
  impl_->publish_load();
  impl_->heartbeat_ns = Clock::now().time_since_epoch().count();
  impl_->thread = std::thread([this] { impl_->run(); });
}

Engine::~Engine() { stop(); }

void Engine::stop() {
  if (!impl_) return;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::variant<std::shared_ptr<RequestChannel>, AdmitError> Engine::submit(GenerationSpec spec) {
  auto ch = std::make_shared<RequestChannel>();
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->stopping) return AdmitError{RejectReason::kDraining, "the engine is shutting down"};
    // in_flight counts every request from here to its finish (pending, waiting, preempted,
    // running) in one atomic, so a burst that arrives before the loop has moved anything to
    // running is judged by the same count as one that arrives later, and there is no window
    // in which a request is in neither `pending` nor the scheduler's counts.
    if (auto err = check_admission(static_cast<int64_t>(spec.prompt.size()), spec.max_tokens,
                                   impl_->in_flight.load(), impl_->sched.config().admission()))
      return *err;
    impl_->pending.push_back({std::move(spec), ch, Clock::now()});
    impl_->in_flight.fetch_add(1);
  }
  impl_->cv.notify_one();
  return ch;
}

LoadSnapshot Engine::load() const {
  std::lock_guard<std::mutex> l(impl_->load_mu);
  LoadSnapshot s = impl_->load;
  std::lock_guard<std::mutex> l2(impl_->mu);
  s.waiting += static_cast<int>(impl_->pending.size());
  return s;
}

bool Engine::alive(std::chrono::milliseconds max_stall) const {
  if (impl_->idle.load()) return true;
  const auto last = Clock::time_point(Clock::duration(impl_->heartbeat_ns.load()));
  return Clock::now() - last <= max_stall;
}

int64_t Engine::max_context_tokens() const { return impl_->max_seq_tokens; }

int Engine::in_flight() const { return impl_->in_flight.load(); }

// ---- the loop thread ----

void Engine::Impl::run() {
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu);
      if (!sched.has_work() && pending.empty() && !stopping) {
        idle = true;
        cv.wait_for(l, std::chrono::milliseconds(200),
                    [&] { return stopping || !pending.empty(); });
      }
      if (stopping) break;
      idle = false;
    }
    heartbeat_ns = Clock::now().time_since_epoch().count();
    try {
      admit_pending();
      check_cancellations();
      step();
    } catch (const std::exception& e) {
      // A failed step leaves the KV cache of every running sequence in doubt: fail them all
      // rather than continue from state we cannot trust.
      log::error("engine step failed", {{"what", e.what()}});
      fail_all(std::string("engine step failed: ") + e.what());
    }
  }
  fail_all("the engine stopped");
}

void Engine::Impl::admit_pending() {
  std::deque<Pending> batch;
  {
    std::lock_guard<std::mutex> l(mu);
    batch.swap(pending);
  }
  for (auto& p : batch) {
    const SeqId id = next_id++;
    SequenceRequest sr;
    sr.id = id;
    sr.prompt = p.spec.prompt;
    sr.max_tokens = p.spec.max_tokens;
    sr.arrival = p.arrival;
    if (cfg.request_timeout.count() > 0) sr.deadline = p.arrival + cfg.request_timeout;
    if (auto err = sched.admit(std::move(sr))) {
      // submit() checked the same limits, so this should not happen; if it does, a full
      // queue is still an overload the client may retry (429), not a server error.
      FinishEvent f;
      f.reason = FinishReason::kError;
      f.error = err->message;
      const bool queue_full = err->reason == RejectReason::kQueueFull;
      f.queue_full = queue_full;
      f.prompt_tokens = static_cast<int>(p.spec.prompt.size());
      in_flight.fetch_sub(1);
      p.ch->finish(std::move(f));
      // A queue-full race is counted by the HTTP layer as a rejection, not as a finish.
      if (metrics && !queue_full) metrics->count_finished(FinishReason::kError);
      continue;
    }
    // Each admitted request's prompt counts once here, as vLLM's prompt_tokens_total does:
    // tokens served from the prefix cache count, recomputation after preemption does not.
    if (metrics) metrics->prompt_tokens_total.inc(static_cast<double>(p.spec.prompt.size()));
    auto r = std::make_unique<Request>(id, std::move(p.spec), std::move(p.ch), seeds(), tok,
                                       p.arrival);
    requests.emplace(id, std::move(r));
  }
}

void Engine::Impl::check_cancellations() {
  for (auto& [id, r] : requests)
    if (!r->cancel_sent && r->ch->cancelled()) {
      sched.cancel(id);
      r->cancel_sent = true;
    }
}

void Engine::Impl::step() {
  const auto now = Clock::now();
  Batch batch = sched.step(now);
  finish_done();  // cancelled / timed out by the step's reaping
  if (batch.empty()) {
    publish_load();
    if (sched.has_work()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return;
  }

  // One forward pass for every scheduled sequence: decodes and prefill chunks together, so
  // each weight matrix is read once per step for the whole batch.
  ForwardBatch fb;
  fb.n_seqs = static_cast<int>(batch.seqs.size());
  for (const auto& s : batch.seqs)
    fb.max_blocks_per_seq = std::max(fb.max_blocks_per_seq, static_cast<int>(s.block_table.size()));
  fb.block_tables.assign(size_t(fb.n_seqs) * fb.max_blocks_per_seq, 0);
  for (int i = 0; i < fb.n_seqs; ++i) {
    const ScheduledSeq& s = batch.seqs[i];
    std::copy(s.block_table.begin(), s.block_table.end(),
              fb.block_tables.begin() + size_t(i) * fb.max_blocks_per_seq);
    for (size_t t = 0; t < s.tokens.size(); ++t) {
      fb.tokens.push_back(s.tokens[t]);
      fb.positions.push_back(s.start_pos + static_cast<int>(t));
      fb.seq_of_token.push_back(i);
    }
    if (s.needs_logits) fb.logit_rows.push_back(fb.n_tokens() - 1);
    auto it = requests.find(s.id);
    if (it != requests.end() && !it->second->seen_in_batch) {
      it->second->seen_in_batch = true;
      if (metrics) metrics->queue_wait_seconds.observe(seconds_between(it->second->arrival, now));
    }
  }
  std::vector<SampledToken> sampled(batch.seqs.size());
  switch (device_draw(batch)) {
    case DeviceDraw::kArgmax:
      sample_batch(batch, nullptr, &model.forward_argmax(fb, kv), sampled);
      break;
    case DeviceDraw::kSample: {
      // One spec per logit row, in batch order: each draws its uniform as sample() would.
      std::vector<SampleSpec> specs;
      for (const ScheduledSeq& s : batch.seqs)
        if (s.needs_logits) specs.push_back(requests.at(s.id)->sampler.next_spec());
      sample_batch(batch, nullptr, &model.forward_sample(fb, kv, specs), sampled);
      break;
    }
    case DeviceDraw::kNone:
      sample_batch(batch, &model.forward(fb, kv), nullptr, sampled);
      break;
  }
  sched.on_step_done(batch, sampled);
  finish_done();
  publish_load();
}

// On a device backend, a step whose every sampled sequence is plain (no penalties, biases
// or logprobs) draws its tokens there: ids cross the bus instead of n_vocab floats per
// sequence (the argmax alone when every one is greedy). The CPU keeps the sampler (the
// logits are already here).
Engine::Impl::DeviceDraw Engine::Impl::device_draw(const Batch& batch) const {
  if (model.backend().uses_host_memory()) return DeviceDraw::kNone;
  bool all_greedy = true;
  for (const ScheduledSeq& s : batch.seqs) {
    if (!s.needs_logits) continue;
    auto it = requests.find(s.id);
    if (it == requests.end()) return DeviceDraw::kNone;
    const Request& r = *it->second;
    if (!r.sampler.plain() || r.matcher || r.spec.logprobs || r.spec.top_logprobs > 0)
      return DeviceDraw::kNone;
    all_greedy = all_greedy && r.sampler.params().greedy();
  }
  return all_greedy ? DeviceDraw::kArgmax : DeviceDraw::kSample;
}

void Engine::Impl::sample_batch(const Batch& batch, const std::vector<float>* logits,
                                const std::vector<int32_t>* ids,
                                std::vector<SampledToken>& sampled) {
  const int n_vocab = model.config().n_vocab;
  const auto now = Clock::now();
  int row = 0;
  int64_t generated = 0;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const ScheduledSeq& s = batch.seqs[i];
    if (!s.needs_logits) continue;
    const int this_row = row++;
    auto it = requests.find(s.id);
    TURBINE_CHECK(it != requests.end());
    Request& r = *it->second;
    const int n_top = r.spec.top_logprobs;
    SampleResult res;
    if (ids) {
      res.token = (*ids)[this_row];  // drawn by the device (device_draw: no logprobs wanted)
    } else {
      const auto row_logits = std::span<const float>(logits->data() + size_t(this_row) * n_vocab, n_vocab);
      const bool with_logprob = r.spec.logprobs;
      if (!r.matcher) {
        res = r.sampler.sample(row_logits, n_top, nullptr, with_logprob);
      } else if (r.sampler.check_then_mask() &&
                 r.matcher->allows((res = r.sampler.sample(row_logits, n_top, nullptr, with_logprob)).token)) {
        // The unconstrained draw is allowed: the mask is not needed (sampler.h says when
        // this is exact).
      } else {
        res = r.sampler.sample(row_logits, n_top, r.matcher->allowed()->data(), with_logprob);
      }
    }
    r.sampler.accept(res.token);
    // The mask allowed it, unless no token could continue the grammar (a vocabulary
    // without byte tokens can meet such a state): then the output ends here.
    const bool grammar_dead = r.matcher && !r.matcher->accept(res.token);
    ++generated;

    TokenEvent ev;
    ev.token = res.token;
    ev.logprob = res.logprob;
    for (auto [id, lp] : res.top) ev.top.push_back({id, lp, {}});
    const SamplingParams& sp = r.spec.sampling;
    bool stop = false;
    if (grammar_dead) {
      stop = true;
    } else if (!sp.ignore_eos && tok.is_eog(res.token)) {
      stop = true;  // the end-of-generation token is not text
    } else if (std::find(sp.stop_token_ids.begin(), sp.stop_token_ids.end(), res.token) !=
               sp.stop_token_ids.end()) {
      stop = true;
    } else {
      ev.text = r.stop.push(r.detok.push(res.token));
      // A complete grammar allows only the end: stop now rather than spend a step on it.
      stop = r.stop.stopped() || (r.matcher && r.matcher->complete());
    }
    sampled[i] = {res.token, stop};

    if (metrics) {
      if (!r.first_token)
        metrics->time_to_first_token_seconds.observe(seconds_between(r.arrival, now));
      else
        metrics->inter_token_latency_seconds.observe(seconds_between(*r.last_token, now));
    }
    if (!r.first_token) r.first_token = now;
    r.last_token = now;
    r.ch->push_token(std::move(ev));
  }
  if (metrics && generated > 0) metrics->record_generated_tokens(generated);
}

void Engine::Impl::finish_done() {
  const auto now = Clock::now();
  for (FinishedSeq& f : sched.take_finished()) {
    auto it = requests.find(f.id);
    if (it == requests.end()) continue;
    Request& r = *it->second;
    FinishEvent ev;
    ev.reason = f.reason;
    ev.prompt_tokens = f.prompt_tokens;
    ev.completion_tokens = f.completion_tokens;
    ev.cached_tokens = f.cached_tokens;
    // Whatever was held back is released unless a stop string cut the output.
    if (!r.stop.stopped()) {
      ev.text = r.stop.push(r.detok.flush());
      ev.text += r.stop.flush();
    }
    // Free the admission place before the client can see the finish: a client that
    // submits its next request at once must not find its own finished one still counted.
    in_flight.fetch_sub(1);
    r.ch->finish(std::move(ev));
    if (metrics) {
      metrics->count_finished(f.reason);
      metrics->request_duration_seconds.observe(seconds_between(r.arrival, now));
    }
    requests.erase(it);
  }
}

void Engine::Impl::publish_load() {
  SchedulerStats st = sched.stats();
  {
    std::lock_guard<std::mutex> l(load_mu);
    load.waiting = st.waiting;
    load.running = st.running;
    load.kv_usage = st.kv_usage;
    load.free_blocks = st.free_blocks;
    load.total_blocks = st.total_blocks;
    load.block_size = st.block_size;
    load.headroom_tokens = int64_t{st.free_blocks} * st.block_size;
  }
  if (!metrics) return;
  metrics->set_load(st.waiting, st.running, st.used_blocks, st.free_blocks,
                    st.prefill_tokens_waiting);
  metrics->preemptions_total.inc(static_cast<double>(st.preemptions_total - last_preemptions));
  metrics->prefix_cache_queries_total.inc(static_cast<double>(st.prefix_cache_queries - last_prefix_queries));
  metrics->prefix_cache_hits_total.inc(static_cast<double>(st.prefix_cache_hits - last_prefix_hits));
  last_preemptions = st.preemptions_total;
  last_prefix_queries = st.prefix_cache_queries;
  last_prefix_hits = st.prefix_cache_hits;
}

void Engine::Impl::fail_all(const std::string& reason) {
  for (auto& [id, r] : requests) {
    sched.cancel(id);
    FinishEvent ev;
    ev.reason = FinishReason::kError;
    ev.error = reason;
    in_flight.fetch_sub(1);
    r->ch->finish(std::move(ev));
    if (metrics) metrics->count_finished(FinishReason::kError);
  }
  requests.clear();
  sched.step(Clock::now());  // reaps the cancelled sequences and frees their blocks
  sched.take_finished();
  std::deque<Pending> rest;
  {
    std::lock_guard<std::mutex> l(mu);
    if (!stopping) return;
    rest.swap(pending);
  }
  for (auto& p : rest) {
    FinishEvent ev;
    ev.reason = FinishReason::kError;
    ev.error = reason;
    in_flight.fetch_sub(1);
    p.ch->finish(std::move(ev));
  }
}

}  // namespace turbine
