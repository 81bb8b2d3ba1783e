#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "engine/model/llama_model.h"
#include "engine/model/perplexity.h"
#include "engine/model/single_sequence.h"
#include "engine/model/synth.h"
#include "tests/unit/model/reference_forward.h"

namespace turbine {
namespace {

struct Loaded {
  std::vector<uint8_t> bytes;
  std::shared_ptr<GgufFile> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<LlamaModel> model;
};

std::unique_ptr<Loaded> load_synth(const SynthOptions& o, int threads = 2) {
  auto out = std::make_unique<Loaded>();
  auto w = synth_model(o);
  EXPECT_TRUE(w.ok()) << w.error();
  out->bytes = w->to_bytes();
  auto f = GgufFile::parse(out->bytes, "synth");
  EXPECT_TRUE(f.ok()) << f.error();
  out->file = *f;
  out->backend = make_cpu_backend(threads);
  auto m = LlamaModel::load(out->file, *out->backend);
  EXPECT_TRUE(m.ok()) << m.error();
  out->model = std::move(*m);
  return out;
}

std::vector<int32_t> some_tokens(int n, int vocab, int salt = 0) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 7919 + salt * 104729 + 13) % vocab;
  return t;
}

// Max |a-b| over the logits, relative to the spread of the reference logits.
double rel_error(const std::vector<float>& a, const std::vector<float>& ref) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, double(std::fabs(a[i] - ref[i])));
    scale = std::max(scale, double(std::fabs(ref[i])));
  }
  return err / scale;
}

struct ForwardCase {
  const char* name;
  DType weights;
  DType embd;
  bool tied;
  double tolerance;  // int8 activations + F16 KV: a few percent of the logit range at most
};

class ForwardVsReference : public ::testing::TestWithParam<ForwardCase> {};

TEST_P(ForwardVsReference, LogitsMatchNaiveFloatImplementation) {
  const ForwardCase& c = GetParam();
  SynthOptions o;
  o.n_layers = 2;
  o.n_embd = 256;  // K-quants need rows that are multiples of 256
  o.n_ff = 512;
  o.n_heads = 4;
  o.n_kv_heads = 2;
  o.n_vocab = 300;
  o.weight_type = c.weights;
  o.embd_type = c.embd;
  o.tied_embeddings = c.tied;
  auto m = load_synth(o);
  ASSERT_TRUE(m->model);
  auto tokens = some_tokens(11, o.n_vocab);
  SingleSequence seq(*m->model, 64, /*batch=*/4, /*block_size=*/4);
  std::vector<float> got = seq.eval(tokens, /*all_logits=*/true);
  std::vector<float> ref = testing::reference_logits(*m->file, tokens);
  ASSERT_EQ(got.size(), ref.size());
  EXPECT_LT(rel_error(got, ref), c.tolerance) << c.name;
  // Greedy choices agree with the reference at (nearly) every position.
  int agree = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    auto arg = [&](const std::vector<float>& v) {
      return std::max_element(v.begin() + t * o.n_vocab, v.begin() + (t + 1) * o.n_vocab) - v.begin();
    };
    agree += arg(got) == arg(ref);
  }
  EXPECT_GE(agree, int(tokens.size()) - 1) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Types, ForwardVsReference,
    ::testing::Values(ForwardCase{"f32", DType::kF32, DType::kF32, true, 0.01},
                      ForwardCase{"f16", DType::kF16, DType::kF16, false, 0.01},
                      ForwardCase{"bf16", DType::kBF16, DType::kF32, true, 0.02},
                      ForwardCase{"q8_0", DType::kQ8_0, DType::kQ8_0, true, 0.03},
                      ForwardCase{"q4_0", DType::kQ4_0, DType::kQ8_0, false, 0.05},
                      ForwardCase{"q4_1", DType::kQ4_1, DType::kQ8_0, true, 0.05},
                      ForwardCase{"q4_k", DType::kQ4_K, DType::kQ8_0, true, 0.05},
                      ForwardCase{"q6_k", DType::kQ6_K, DType::kQ6_K, false, 0.05},
                      ForwardCase{"q5_0", DType::kQ5_0, DType::kQ5_0, true, 0.05},
                      ForwardCase{"q5_1", DType::kQ5_1, DType::kQ8_0, false, 0.05},
                      ForwardCase{"q5_k", DType::kQ5_K, DType::kQ5_K, true, 0.05},
                      ForwardCase{"q3_k", DType::kQ3_K, DType::kQ6_K, false, 0.05},
                      ForwardCase{"q2_k", DType::kQ2_K, DType::kQ2_K, true, 0.05}),
    [](const auto& info) { return std::string(info.param.name); });

SynthOptions tiny() {
  SynthOptions o;
  o.n_layers = 2;
  o.n_embd = 64;
  o.n_ff = 128;
  o.n_heads = 4;
  o.n_kv_heads = 1;
  o.n_vocab = 320;
  o.weight_type = DType::kQ8_0;
  return o;
}

// Chunked prefill, token-by-token decode and one-shot evaluation give the same logits.
TEST(LlamaModel, ChunkingDoesNotChangeLogits) {
  auto m = load_synth(tiny());
  auto tokens = some_tokens(20, 320);
  SingleSequence whole(*m->model, 32, 64), chunked(*m->model, 32, 3), stepwise(*m->model, 32, 1);
  auto a = whole.eval(tokens, true);
  auto b = chunked.eval(tokens, true);
  std::vector<float> c;
  for (int32_t t : tokens) {
    auto l = stepwise.eval(std::span<const int32_t>(&t, 1));
    c.insert(c.end(), l.begin(), l.end());
  }
  EXPECT_LT(rel_error(b, a), 1e-4);
  EXPECT_LT(rel_error(c, a), 1e-4);
}

// Two sequences in one batch, with interleaved non-contiguous blocks, give each the logits it
// gets alone.
TEST(LlamaModel, BatchedSequencesMatchSingleRuns) {
  auto m = load_synth(tiny());
  const int bs = 4;
  auto s0 = some_tokens(9, 320, 1), s1 = some_tokens(6, 320, 2);
  SingleSequence a(*m->model, 16, 64, bs), b(*m->model, 16, 64, bs);
  auto ref0 = a.eval(s0), ref1 = b.eval(s1);

  KvPool kv(m->model->backend(), m->model->config().n_layers, m->model->kv_geometry(8, bs));
  ForwardBatch fb;
  fb.n_seqs = 2;
  fb.max_blocks_per_seq = 3;
  fb.block_tables = {5, 1, 6, /*seq 1:*/ 0, 7, 2};
  for (size_t i = 0; i < s0.size(); ++i) {
    fb.tokens.push_back(s0[i]);
    fb.positions.push_back(int(i));
    fb.seq_of_token.push_back(0);
  }
  for (size_t i = 0; i < s1.size(); ++i) {
    fb.tokens.push_back(s1[i]);
    fb.positions.push_back(int(i));
    fb.seq_of_token.push_back(1);
  }
  fb.logit_rows = {int(s0.size() + s1.size() - 1), int(s0.size() - 1)};
  auto logits = m->model->forward(fb, kv);
  const int V = m->model->config().n_vocab;
  std::vector<float> got1(logits.begin(), logits.begin() + V), got0(logits.begin() + V, logits.end());
  EXPECT_LT(rel_error(got0, ref0), 1e-4);
  EXPECT_LT(rel_error(got1, ref1), 1e-4);
}

TEST(LlamaModel, LoadRejectsMissingAndMisshapenTensors) {
  SynthOptions o = tiny();
  auto w = synth_model(o);
  ASSERT_TRUE(w.ok());
  // Re-declare a tensor with a wrong shape by building a writer without blk.1.ffn_up.
  GgufWriter broken;
  auto bytes = w->to_bytes();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok());
  for (const auto& [k, v] : (*f)->metadata()) broken.set(k, v);
  for (const auto& t : (*f)->tensors()) {
    if (t.name == "blk.1.ffn_up.weight") continue;
    std::vector<int64_t> dims = t.dims;
    if (t.name == "blk.0.attn_k.weight") dims = {dims[0], dims[1] * 2};
    std::vector<uint8_t> data(t.data, t.data + t.nbytes);
    if (t.name == "blk.0.attn_k.weight") data.resize(data.size() * 2);
    broken.add_tensor(t.name, dims, t.type, data);
  }
  auto bb = broken.to_bytes();
  auto bf = GgufFile::parse(bb);
  ASSERT_TRUE(bf.ok()) << bf.error();
  auto be = make_cpu_backend(1);
  auto m = LlamaModel::load(*bf, *be);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().find("blk.0.attn_k.weight' has shape"), std::string::npos) << m.error();
}

TEST(LlamaModel, ConfigRejectsOtherArchitectures) {
  GgufWriter w;
  w.set_string("general.architecture", "mamba");
  auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok());
  auto c = LlamaConfig::from_gguf(**f);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().find("architecture 'mamba'"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("supported: llama, qwen2, qwen3, gemma3"), std::string::npos) << c.error();
}

// Each architecture on a synthetic model against the naive float forward pass, with shapes
// that exercise what sets it apart: Qwen2's biases (on a model whose heads share KV heads),
// Qwen3's per-head norms with a head size that is not hidden / heads (4 x 96 over 256).
struct ArchCase {
  const char* name;
  const char* arch;
  int head_dim;
  int n_kv_heads;
  const char* rope_scaling = "none";
  int n_layers = 2;
};

class ArchVsReference : public ::testing::TestWithParam<ArchCase> {};

TEST_P(ArchVsReference, LogitsMatchNaiveFloatImplementation) {
  const ArchCase& a = GetParam();
  SynthOptions o;
  o.arch = a.arch;
  o.head_dim = a.head_dim;
  o.n_layers = a.n_layers;
  o.n_embd = 256;
  o.n_ff = 512;
  o.n_heads = 4;
  o.n_kv_heads = a.n_kv_heads;
  o.n_vocab = 300;
  o.sliding_window = 5;  // gemma3: the 13 tokens below outgrow it
  o.weight_type = DType::kF16;
  o.embd_type = DType::kF16;
  o.rope_scaling = a.rope_scaling;
  o.rope_factor = 4.f;
  o.context_length = 24;  // llama3 scaling: a short "original" context scales most pairs
  auto m = load_synth(o);
  ASSERT_TRUE(m->model);
  const LlamaConfig& c = m->model->config();
  EXPECT_EQ(c.rope_factors, std::string(a.rope_scaling) == "llama3");
  EXPECT_EQ(c.rope_freq_scale, std::string(a.rope_scaling) == "linear" ? 0.25f : 1.f);
  EXPECT_EQ(c.arch, a.arch);
  EXPECT_EQ(c.qkv_bias, std::string(a.arch) == "qwen2");
  EXPECT_EQ(c.qk_norm, std::string(a.arch) == "qwen3" || std::string(a.arch) == "gemma3");
  EXPECT_EQ(c.post_norms, std::string(a.arch) == "gemma3");
  EXPECT_EQ(c.head_dim, a.head_dim ? a.head_dim : o.n_embd / o.n_heads);
  auto tokens = some_tokens(13, o.n_vocab);
  SingleSequence seq(*m->model, 64, /*batch=*/4, /*block_size=*/4);
  std::vector<float> got = seq.eval(tokens, /*all_logits=*/true);
  std::vector<float> ref = testing::reference_logits(*m->file, tokens);
  ASSERT_EQ(got.size(), ref.size());
  EXPECT_LT(rel_error(got, ref), 0.01) << a.name;
  // The same model read as plain llama (no biases / norms, pairwise RoPE) must differ:
  // the test would pass vacuously if the extra tensors did nothing.
  if (std::string(a.arch) != "llama" || std::string(a.rope_scaling) != "none") {
    LlamaConfig plain = c;
    plain.qkv_bias = plain.qk_norm = plain.rope_factors = plain.post_norms = plain.gelu_ffn = false;
    plain.embd_scale = 0.f;
    plain.sliding_window = 0;
    plain.rope_style = RopeStyle::kNormal;
    plain.rope_freq_scale = 1.f;
    EXPECT_GT(rel_error(testing::reference_logits(*m->file, tokens, &plain), ref), 0.05) << a.name;
  }
  if (c.sliding_window > 0) {  // the window itself changes the result (tokens 5..12 outgrow it)
    LlamaConfig global = c;
    global.sliding_window = 0;
    EXPECT_GT(rel_error(testing::reference_logits(*m->file, tokens, &global), ref), 0.01) << a.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, ArchVsReference,
                         ::testing::Values(ArchCase{"llama_own_head_dim", "llama", 32, 2},
                                           ArchCase{"qwen2", "qwen2", 0, 2},
                                           ArchCase{"qwen2_mha", "qwen2", 0, 4},
                                           ArchCase{"qwen3", "qwen3", 0, 2},
                                           ArchCase{"qwen3_wide_heads", "qwen3", 96, 1},
                                           ArchCase{"llama_rope_linear", "llama", 0, 2, "linear"},
                                           ArchCase{"llama3_rope_freqs", "llama", 0, 2, "llama3"},
                                           ArchCase{"qwen2_rope_linear", "qwen2", 0, 2, "linear"},
                                           // layers 0-4 local (window 5), layer 5 global
                                           ArchCase{"gemma3", "gemma3", 128, 1, "none", 6},
                                           ArchCase{"gemma3_rope_linear", "gemma3", 0, 2, "linear", 6}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(LlamaModel, QwenModelsNeedTheirExtraTensors) {
  for (const char* arch : {"qwen2", "qwen3"}) {
    SynthOptions o = tiny();
    o.arch = arch;
    auto w = synth_model(o);
    ASSERT_TRUE(w.ok());
    auto bytes = w->to_bytes();
    auto f = GgufFile::parse(bytes);
    ASSERT_TRUE(f.ok());
    const std::string drop = std::string(arch) == "qwen2" ? "blk.1.attn_v.bias" : "blk.0.attn_k_norm.weight";
    GgufWriter broken;
    for (const auto& [k, v] : (*f)->metadata()) broken.set(k, v);
    for (const auto& t : (*f)->tensors())
      if (t.name != drop) broken.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.nbytes));
    auto bb = broken.to_bytes();
    auto bf = GgufFile::parse(bb);
    ASSERT_TRUE(bf.ok()) << bf.error();
    auto be = make_cpu_backend(1);
    auto m = LlamaModel::load(*bf, *be);
    ASSERT_FALSE(m.ok()) << arch;
    EXPECT_NE(m.error().find(drop), std::string::npos) << m.error();
  }
}

// The config of synthetic model `o` after `edit` rewrites some of its metadata or tensors.
Result<LlamaConfig> config_with(const SynthOptions& o, const std::function<void(GgufWriter&)>& edit) {
  auto w = synth_model(o);
  EXPECT_TRUE(w.ok());
  edit(*w);
  auto bytes = w->to_bytes();
  auto f = GgufFile::parse(bytes);
  EXPECT_TRUE(f.ok());
  return LlamaConfig::from_gguf(**f);
}

TEST(LlamaModel, ConfigReadsRopeScalingAsLlamaCppDoes) {
  auto config_of = [](const std::function<void(GgufWriter&)>& edit) { return config_with(tiny(), edit); };
  struct Row {
    const char* type;  // nullptr: no rope.scaling.type key
    float factor;      // 0: no factor key
    float want_scale;  // -1: an error naming the type
  } rows[] = {{nullptr, 0, 1.f}, {nullptr, 4, 0.25f}, {"linear", 2, 0.5f}, {"linear", 0, 1.f},
              {"none", 4, 1.f}, {"yarn", 4, -1}, {"longrope", 2, -1}};
  for (const Row& r : rows) {
    auto c = config_of([&](GgufWriter& w) {
      if (r.type) w.set_string("llama.rope.scaling.type", r.type);
      if (r.factor) w.set_f32("llama.rope.scaling.factor", r.factor);
    });
    const std::string what = std::string(r.type ? r.type : "(none)") + " x" + std::to_string(r.factor);
    if (r.want_scale < 0) {
      ASSERT_FALSE(c.ok()) << what;
      EXPECT_NE(c.error().find(std::string("RoPE scaling '") + r.type + "'"), std::string::npos) << c.error();
    } else {
      ASSERT_TRUE(c.ok()) << what << ": " << c.error();
      EXPECT_EQ(c->rope_freq_scale, r.want_scale) << what;
    }
  }
  auto neg = config_of([](GgufWriter& w) { w.set_f32("llama.rope.scaling.factor", -2.f); });
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().find("not a positive number"), std::string::npos) << neg.error();
  auto bad_freqs = config_of([](GgufWriter& w) {
    w.add_tensor("rope_freqs.weight", {3}, DType::kF32, std::vector<uint8_t>(12, 0));
  });
  ASSERT_FALSE(bad_freqs.ok());
  EXPECT_NE(bad_freqs.error().find("rope_freqs.weight must be F32 of shape [8]"), std::string::npos)
      << bad_freqs.error();
}

TEST(LlamaModel, ConfigRejectsInconsistentHeadSizes) {
  SynthOptions o = tiny();
  o.arch = "qwen3";
  o.head_dim = 32;
  auto config_of = [&](const std::function<void(GgufWriter&)>& edit) { return config_with(o, edit); };
  auto ok = config_of([](GgufWriter&) {});
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ(ok->head_dim, 32);
  auto v = config_of([](GgufWriter& w) { w.set_u32("qwen3.attention.value_length", 48); });
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().find("value_length 48"), std::string::npos) << v.error();
  auto odd = config_of([](GgufWriter& w) { w.set_u32("qwen3.attention.key_length", 33); });
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.error().find("odd"), std::string::npos) << odd.error();
}

TEST(Perplexity, MatchesDirectComputationOnTinyModel) {
  auto m = load_synth(tiny());
  auto tokens = some_tokens(70, 320);
  auto r = perplexity(*m->model, tokens, 32, 32, std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->chunks, 2);
  EXPECT_EQ(r->scored_tokens, 2 * (32 - 1 - 16));
  // Recompute chunk by chunk with the reference forward.
  double nll = 0;
  const int V = 320;
  for (int c = 0; c < 2; ++c) {
    std::vector<int32_t> chunk(tokens.begin() + c * 32, tokens.begin() + (c + 1) * 32);
    auto ref = testing::reference_logits(*m->file, chunk);
    for (int p = 16; p < 31; ++p)
      nll -= token_logprob({ref.data() + size_t(p) * V, size_t(V)}, chunk[p + 1]);
  }
  // Compare mean negative log-likelihoods (a random model's perplexity is astronomically
  // large, so a ratio of perplexities would amplify int8 rounding).
  double ref_nll = nll / r->scored_tokens;
  EXPECT_NEAR(std::log(r->ppl), ref_nll, 0.02 * ref_nll);
  auto too_short = perplexity(*m->model, some_tokens(10, 320), 32, 32, std::nullopt);
  EXPECT_FALSE(too_short.ok());
}

TEST(Synth, RejectsBadShapes) {
  SynthOptions o = tiny();
  o.n_heads = 3;
  EXPECT_FALSE(validate(o).ok());
  o = tiny();
  o.n_vocab = 100;
  EXPECT_FALSE(validate(o).ok());
  o = tiny();
  o.weight_type = DType::kQ4_K;  // 64 is not a multiple of 256
  Status s = validate(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("multiple of 256"), std::string::npos) << s.error();
}

TEST(Synth, SameSeedSameBytes) {
  auto a = synth_model(tiny()), b = synth_model(tiny());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->to_bytes(), b->to_bytes());
  SynthOptions o = tiny();
  o.seed = 2;
  EXPECT_NE(synth_model(o)->to_bytes(), a->to_bytes());
}

}  // namespace
}  // namespace turbine
