// turbine quantize's core: conversions between every type it writes, AWQ's search and the
// folding of its scales, and the failures it must report without writing anything.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "engine/model/llama_model.h"
#include "engine/model/single_sequence.h"
#include "engine/model/synth.h"
#include "engine/quant/awq.h"
#include "engine/quant/quantize_model.h"
#include "kernels/quantize.h"

namespace turbine {
namespace {

std::string tmp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("turbine_q_" + std::to_string(getpid()) + "_" + name)).string();
}

// A small model with rows that are not a multiple of 128 (W4G128's short last group).
SynthOptions small_model() {
  SynthOptions o;
  o.n_layers = 2, o.n_embd = 160, o.n_ff = 288, o.n_heads = 4, o.n_kv_heads = 2, o.n_vocab = 320;
  o.weight_type = DType::kF16, o.embd_type = DType::kF16;
  o.seed = 11;
  return o;
}

std::shared_ptr<GgufFile> write_and_open(const SynthOptions& o, const std::string& path) {
  EXPECT_TRUE(synth_model_file(o, path).ok());
  auto f = GgufFile::open(path);
  EXPECT_TRUE(f.ok()) << (f ? "" : f.error());
  return f ? *f : nullptr;
}

std::vector<int32_t> calib_tokens(int n, int vocab) {
  std::vector<int32_t> t(n);
  uint32_t s = 12345;
  for (auto& v : t) s = s * 1103515245u + 12345u, v = 3 + int32_t((s >> 8) % uint32_t(vocab - 3));
  return t;
}

// Logits of every position of `tokens` on the CPU.
std::vector<float> logits_of(std::shared_ptr<GgufFile> f, const std::vector<int32_t>& tokens) {
  auto cpu = make_cpu_backend(2);
  auto m = LlamaModel::load(f, *cpu);
  EXPECT_TRUE(m.ok()) << (m ? "" : m.error());
  SingleSequence seq(**m, int(tokens.size()), 64);
  return seq.eval(tokens, /*all_logits=*/true);
}

double rms_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / a.size());
}

TEST(Quantize, EveryTypeRoundTripsWithinItsBound) {
  const std::string src = tmp_path("src.gguf");
  auto in = write_and_open(small_model(), src);
  ASSERT_TRUE(in);
  struct Case {
    const char* name;
    float bound;  // max |out - in| per row, relative to the row's max magnitude
  } cases[] = {{"f32", 0.f}, {"f16", 0.f}, {"bf16", 8e-3f}, {"q8_0", 1.f / 200},
               {"q4_0", 1.f / 7}, {"q4_1", 1.f / 14}, {"w4g128", 1.f / 14}};
  for (const Case& c : cases) {
    auto t = parse_quant_type(c.name);
    ASSERT_TRUE(t.ok()) << c.name;
    QuantizeOptions q;
    q.type = *t;
    q.embd_type = *t;
    const std::string out = tmp_path(std::string(c.name) + ".gguf");
    auto s = quantize_model(in, out, q);
    ASSERT_TRUE(s.ok()) << c.name << ": " << (s ? "" : s.error());
    auto f = GgufFile::open(out);
    ASSERT_TRUE(f.ok()) << c.name;
    EXPECT_EQ((*f)->get_string("turbine.quantize.type"), std::string(c.name));
    EXPECT_EQ((*f)->tensors().size(), in->tensors().size());
    for (const GgufTensor& a : in->tensors()) {
      const GgufTensor* b = (*f)->find_tensor(a.name);
      ASSERT_NE(b, nullptr) << a.name;
      EXPECT_EQ(b->dims, a.dims);
      EXPECT_EQ(b->type, a.dims.size() == 1 ? DType::kF32 : *t) << a.name;
      const int64_t cols = a.dims[0], rows = a.n_elements() / cols;
      std::vector<float> x(cols), y(cols);
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row(a.type, a.data + r * row_bytes(a.type, cols), x.data(), cols);
        dequantize_row(b->type, b->data + r * row_bytes(b->type, cols), y.data(), cols);
        float amax = 0, err = 0;
        for (int64_t i = 0; i < cols; ++i) amax = std::max(amax, std::fabs(x[i])), err = std::max(err, std::fabs(x[i] - y[i]));
        ASSERT_LE(err, c.bound * amax + 1e-7f) << c.name << " " << a.name << " row " << r;
      }
    }
    // And it is a model that runs.
    auto lg = logits_of(*f, calib_tokens(8, 320));
    for (float v : lg) ASSERT_TRUE(std::isfinite(v)) << c.name;
    std::filesystem::remove(out);
  }
  std::filesystem::remove(src);
}

TEST(Quantize, DefaultKeepsTheEmbeddingAt8BitsFor4BitTypes) {
  const std::string src = tmp_path("src2.gguf");
  auto in = write_and_open(small_model(), src);
  ASSERT_TRUE(in);
  QuantizeOptions q;
  q.type = DType::kW4G128;
  const std::string out = tmp_path("w4.gguf");
  auto s = quantize_model(in, out, q);
  ASSERT_TRUE(s.ok()) << (s ? "" : s.error());
  auto f = GgufFile::open(out);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->find_tensor("token_embd.weight")->type, DType::kQ8_0);
  EXPECT_EQ((*f)->find_tensor("blk.0.ffn_down.weight")->type, DType::kW4G128);
  EXPECT_FALSE((*f)->get_int("general.file_type").has_value());  // llama.cpp has no number for it
  std::filesystem::remove(out);
  std::filesystem::remove(src);
}

TEST(Quantize, BadInputsFailClearlyAndWriteNothing) {
  const std::string out = tmp_path("never.gguf");
  EXPECT_FALSE(parse_quant_type("q4_k").ok());
  EXPECT_NE(parse_quant_type("int3").error().find("w4g128"), std::string::npos);
  // A model with a matrix missing.
  SynthOptions o = small_model();
  auto w = synth_model(o);
  ASSERT_TRUE(w.ok());
  GgufWriter broken;
  std::vector<uint8_t> bytes = w->to_bytes();
  auto f = GgufFile::parse(bytes, "synth");
  ASSERT_TRUE(f.ok());
  for (const auto& [k, v] : (*f)->metadata()) broken.set(k, v);
  for (const GgufTensor& t : (*f)->tensors())
    if (t.name != "blk.1.ffn_up.weight")
      broken.add_tensor(t.name, t.dims, t.type, std::vector<uint8_t>(t.data, t.data + t.nbytes));
  std::vector<uint8_t> bb = broken.to_bytes();
  auto bf = GgufFile::parse(bb, "broken");
  ASSERT_TRUE(bf.ok());
  QuantizeOptions q;
  q.type = DType::kQ8_0;
  auto r = quantize_model(*bf, out, q);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("blk.1.ffn_up.weight"), std::string::npos) << r.error();
  EXPECT_FALSE(std::filesystem::exists(out));
  // AWQ with too little calibration.
  auto a = awq_search(*f, calib_tokens(4, 320), AwqOptions{});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().find("calibration"), std::string::npos);
}

TEST(Awq, FoldedScalesLeaveTheModelUnchanged) {
  // The plan applied without rounding (F32 out) must compute the same function: every
  // scale is undone by the op that feeds the matrix (norm weights, V rows, up rows).
  const std::string src = tmp_path("src3.gguf");
  SynthOptions o = small_model();
  o.weight_type = o.embd_type = DType::kF32;
  auto in = write_and_open(o, src);
  ASSERT_TRUE(in);
  const auto calib = calib_tokens(96, o.n_vocab);
  AwqOptions ao;
  ao.type = DType::kW4G128;
  ao.threads = 2;
  auto awq = awq_search(in, calib, ao);
  ASSERT_TRUE(awq.ok()) << (awq ? "" : awq.error());
  ASSERT_EQ(awq->groups.size(), 4u * o.n_layers);
  EXPECT_EQ(awq->plan.count("blk.0.attn_norm.weight"), 1u);
  EXPECT_EQ(awq->plan.at("blk.1.attn_v.weight").row_div.size(), size_t(o.n_kv_heads) * (o.n_embd / o.n_heads));
  bool nontrivial = false;
  for (const auto& g : awq->groups) {
    EXPECT_LE(g.loss_awq, g.loss_rtn * (1 + 1e-9)) << g.first_matrix;  // alpha = 0 is RTN
    nontrivial = nontrivial || g.alpha > 0;
  }
  EXPECT_TRUE(nontrivial);
  // Clipping off for this check: it changes weights by design.
  TransformPlan scales_only = awq->plan;
  for (auto& [name, t] : scales_only) t.clip.clear();
  QuantizeOptions q;
  q.type = q.embd_type.emplace(DType::kF32);
  q.plan = &scales_only;
  const std::string out = tmp_path("scaled.gguf");
  ASSERT_TRUE(quantize_model(in, out, q).ok());
  auto scaled = GgufFile::open(out);
  ASSERT_TRUE(scaled.ok());
  const auto toks = calib_tokens(24, o.n_vocab);
  const auto a = logits_of(in, toks), b = logits_of(*scaled, toks);
  double amax = 0;
  for (float v : a) amax = std::max(amax, double(std::fabs(v)));
  EXPECT_LT(rms_diff(a, b), 1e-4 * amax);
  std::filesystem::remove(out);
  std::filesystem::remove(src);
}

TEST(Awq, BeatsRoundToNearestOnTheCalibratedModel) {
  const std::string src = tmp_path("src4.gguf");
  SynthOptions o = small_model();
  auto in = write_and_open(o, src);
  ASSERT_TRUE(in);
  const auto calib = calib_tokens(128, o.n_vocab);
  AwqOptions ao;
  ao.threads = 2;
  auto awq = awq_search(in, calib, ao);
  ASSERT_TRUE(awq.ok());
  QuantizeOptions rtn, aq;
  rtn.type = aq.type = DType::kW4G128;
  rtn.embd_type = aq.embd_type = DType::kF16;  // the same embedding in both
  aq.plan = &awq->plan;
  const std::string p_rtn = tmp_path("rtn.gguf"), p_awq = tmp_path("awq.gguf");
  ASSERT_TRUE(quantize_model(in, p_rtn, rtn).ok());
  ASSERT_TRUE(quantize_model(in, p_awq, aq).ok());
  const auto ref = logits_of(in, calib);
  const double e_rtn = rms_diff(ref, logits_of(*GgufFile::open(p_rtn), calib));
  const double e_awq = rms_diff(ref, logits_of(*GgufFile::open(p_awq), calib));
  std::printf("logit rms error vs F16: rtn %.5f awq %.5f\n", e_rtn, e_awq);
  EXPECT_LT(e_awq, e_rtn);
  for (const auto& p : {p_rtn, p_awq, src}) std::filesystem::remove(p);
}

}  // namespace
}  // namespace turbine
