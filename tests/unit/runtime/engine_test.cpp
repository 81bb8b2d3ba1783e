// The engine loop on a tiny synthetic model: admission capacity under a burst and the
// prompt-token counter. (The scheduler's policy has its own table tests; these pin what
// the engine adds around it: the submit-side count and the metrics.)
#include <gtest/gtest.h>

#include <thread>

#include "engine/runtime/engine_metrics.h"
#include "engine/model/llama_model.h"
#include "engine/model/synth.h"
#include "engine/runtime/engine.h"

namespace turbine {
namespace {

struct Tiny {
  std::vector<uint8_t> bytes;
  std::shared_ptr<GgufFile> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tok;
};

std::unique_ptr<Tiny> load_tiny() {
  auto t = std::make_unique<Tiny>();
  auto w = synth_model(SynthOptions{});
  EXPECT_TRUE(w.ok()) << w.error();
  t->bytes = w->to_bytes();
  auto f = GgufFile::parse(t->bytes, "synth");
  EXPECT_TRUE(f.ok()) << f.error();
  t->file = *f;
  t->backend = make_cpu_backend(1);
  auto m = LlamaModel::load(t->file, *t->backend);
  EXPECT_TRUE(m.ok()) << m.error();
  t->model = std::move(*m);
  auto v = vocab_from_gguf(*t->file);
  EXPECT_TRUE(v.ok());
  auto tk = Tokenizer::create(std::move(*v));
  EXPECT_TRUE(tk.ok());
  t->tok = std::make_unique<Tokenizer>(std::move(*tk));
  return t;
}

GenerationSpec spec(std::vector<int32_t> prompt, int max_tokens) {
  GenerationSpec s;
  s.prompt = std::move(prompt);
  s.max_tokens = max_tokens;
  s.sampling.temperature = 0;
  s.sampling.ignore_eos = true;
  return s;
}

std::vector<int32_t> prompt_of(int n, int salt) {
  std::vector<int32_t> p(n);
  for (int i = 0; i < n; ++i) p[i] = 300 + (i * 7 + salt) % 200;
  return p;
}

FinishEvent wait_finish(RequestChannel& ch) {
  for (;;) {
    auto ev = ch.next(std::chrono::milliseconds(5000));
    EXPECT_TRUE(ev.has_value()) << "no event in 5 s";
    if (!ev) return {};
    if (ev->finish) return *ev->finish;
  }
}

// A burst that arrives before the loop has moved anything to running is judged against
// running slots + queue, not against the queue alone.
TEST(Engine, BurstAdmissionCountsRunningSlots) {
  struct Case {
    int max_running, max_queue, burst, want_accepted;
  };
  auto tiny = load_tiny();
  for (const Case& c : std::vector<Case>{{2, 2, 8, 4}, {1, 1, 6, 2}, {4, 0, 6, 4}, {2, 8, 8, 8}}) {
    SCOPED_TRACE(std::to_string(c.max_running) + " running, " + std::to_string(c.max_queue) +
                 " queued");
    EngineConfig ec;
    ec.num_blocks = 256;
    ec.max_running = c.max_running;
    ec.max_queue = c.max_queue;
    Engine engine(*tiny->model, *tiny->tok, ec);
    std::vector<std::shared_ptr<RequestChannel>> accepted;
    int rejected = 0;
    for (int i = 0; i < c.burst; ++i) {
      auto r = engine.submit(spec(prompt_of(8, i), 1000));  // long: none finishes meanwhile
      if (auto* rej = std::get_if<AdmitError>(&r)) {
        EXPECT_EQ(rej->reason, RejectReason::kQueueFull) << rej->message;
        ++rejected;
      } else {
        accepted.push_back(std::get<std::shared_ptr<RequestChannel>>(r));
      }
    }
    EXPECT_EQ(static_cast<int>(accepted.size()), c.want_accepted);
    EXPECT_EQ(rejected, c.burst - c.want_accepted);
    // Every accepted request really runs (none turns into an error at the scheduler).
    for (auto& ch : accepted) ch->cancel();
    for (auto& ch : accepted) {
      FinishEvent f = wait_finish(*ch);
      EXPECT_EQ(f.reason, FinishReason::kCancelled) << f.error;
    }
    EXPECT_EQ(engine.in_flight(), 0);
  }
}

// A finished request's place is free by the time its client sees the finish.
TEST(Engine, FinishedRequestFreesItsPlaceBeforeTheClientSeesIt) {
  auto tiny = load_tiny();
  EngineConfig ec;
  ec.num_blocks = 64;
  ec.max_running = 1;
  ec.max_queue = 0;
  Engine engine(*tiny->model, *tiny->tok, ec);
  for (int i = 0; i < 20; ++i) {
    auto r = engine.submit(spec(prompt_of(4, i), 2));
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<RequestChannel>>(r))
        << "request " << i << ": " << std::get<AdmitError>(r).message;
    EXPECT_EQ(wait_finish(*std::get<std::shared_ptr<RequestChannel>>(r)).reason, FinishReason::kLength);
  }
}

// turbine_prompt_tokens_total counts each admitted request's prompt once: a prefix-cache
// hit still counts (the old per-step count of computed prefill tokens missed it).
TEST(Engine, PromptTokensCountEachRequestOnce) {
  auto tiny = load_tiny();
  metrics::Registry reg;
  EngineMetrics m(reg);
  EngineConfig ec;
  ec.num_blocks = 64;
  ec.block_size = 16;
  Engine engine(*tiny->model, *tiny->tok, ec, &m);
  const auto p = prompt_of(40, 1);
  for (int i = 0; i < 2; ++i) {
    auto r = engine.submit(spec(p, 3));
    ASSERT_TRUE(std::holds_alternative<std::shared_ptr<RequestChannel>>(r));
    FinishEvent f = wait_finish(*std::get<std::shared_ptr<RequestChannel>>(r));
    EXPECT_EQ(f.prompt_tokens, 40);
    if (i == 1) EXPECT_GT(f.cached_tokens, 0) << "the second request should hit the prefix cache";
  }
  EXPECT_EQ(m.prompt_tokens_total.value(), 80);
  EXPECT_GT(m.prefix_cache_hits_total.value(), 0);
}

}  // namespace
}  // namespace turbine
