// The engine loop on the CUDA backend: sampled steps drawn on the device (Backend::sample)
// follow the request's seed, whatever else is in the batch, and draw what the host Sampler
// draws from the same logits (a request that asks for logprobs takes the host path).
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "engine/model/llama_model.h"
#include "engine/model/synth.h"
#include "engine/runtime/engine.h"
#include "engine/tokenizer/tokenizer.h"
#include "kernels/cuda/cuda_backend.h"

namespace turbine {
namespace {

std::vector<std::vector<int32_t>> generate(Engine& engine, uint64_t seed, bool logprobs,
                                           int n_parallel) {
  std::vector<std::shared_ptr<RequestChannel>> chans;
  for (int i = 0; i < n_parallel; ++i) {
    GenerationSpec s;
    for (int j = 0; j < 12; ++j) s.prompt.push_back(300 + (j * 37) % 200);
    s.max_tokens = 24;
    s.sampling.temperature = 0.9f;
    s.sampling.top_k = 50;
    s.sampling.top_p = 0.95f;
    s.sampling.min_p = 0.02f;
    s.sampling.seed = seed;
    s.sampling.ignore_eos = true;
    s.logprobs = logprobs;
    auto r = engine.submit(std::move(s));
    EXPECT_TRUE(std::holds_alternative<std::shared_ptr<RequestChannel>>(r));
    if (auto* ch = std::get_if<std::shared_ptr<RequestChannel>>(&r)) chans.push_back(*ch);
  }
  std::vector<std::vector<int32_t>> out;
  for (auto& ch : chans) {
    std::vector<int32_t> toks;
    for (;;) {
      auto ev = ch->next(std::chrono::milliseconds(600000));
      EXPECT_TRUE(ev.has_value()) << "no event";
      if (!ev || ev->finish) break;
      if (ev->token) toks.push_back(ev->token->token);
    }
    out.push_back(std::move(toks));
  }
  return out;
}

TEST(CudaEngine, DeviceDrawsFollowTheSeedAndMatchTheHostSampler) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  SynthOptions o;  // Q8_0 weights: every step of these batches takes the GEMV
  auto w = synth_model(o);
  ASSERT_TRUE(w.ok()) << w.error();
  std::vector<uint8_t> bytes = w->to_bytes();
  auto f = GgufFile::parse(bytes, "synth");
  ASSERT_TRUE(f.ok()) << f.error();
  auto gpu = make_cuda_backend(0);
  auto m = LlamaModel::load(*f, *gpu);
  ASSERT_TRUE(m.ok()) << m.error();
  auto v = vocab_from_gguf(**f);
  ASSERT_TRUE(v.ok());
  auto tk = Tokenizer::create(std::move(*v));
  ASSERT_TRUE(tk.ok());
  EngineConfig ec;
  ec.num_blocks = 128;
  Engine engine(**m, *tk, ec);

  const std::vector<int32_t> device = generate(engine, 7, false, 1)[0];
  ASSERT_EQ(device.size(), 24u);
  EXPECT_EQ(generate(engine, 7, false, 1)[0], device) << "same seed, same tokens";
  EXPECT_EQ(generate(engine, 7, true, 1)[0], device) << "the host Sampler draws the same";
  for (const auto& t : generate(engine, 7, false, 3)) EXPECT_EQ(t, device) << "in a batch of three";
  EXPECT_NE(generate(engine, 8, false, 1)[0], device) << "another seed, other tokens";
  // Those decode steps ran as replayed CUDA graphs (batches of one and of three).
  EXPECT_GE(cuda_graph_stats(*gpu).captures, 2);
  EXPECT_GT(cuda_graph_stats(*gpu).replays, 50);
}

}  // namespace
}  // namespace turbine
