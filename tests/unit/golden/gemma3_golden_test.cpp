// turbine against llama.cpp on the real Gemma-3 270M (Q4_K_M, its Q5_0 / Q4_K / Q6_K /
// Q8_0 mix): reference outputs made by scripts/make-golden gemma3 and committed in
// tests/golden/gemma3/. The model path comes from TURBINE_GEMMA3_MODEL (scripts/test sets
// it from scripts/fetch-model gemma3).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "engine/model/perplexity.h"
#include "tests/unit/golden/golden_util.h"

namespace turbine {
namespace {

using namespace golden;

RealModel* gemma() {
  static RealModel* m = load_real_model(make_cpu_backend(0), "TURBINE_GEMMA3_MODEL");
  return m;
}

#define REQUIRE_GEMMA()                                                                     \
  RealModel* rm = gemma();                                                                  \
  if (!rm) GTEST_SKIP() << "TURBINE_GEMMA3_MODEL does not name a loadable model (scripts/" \
                           "test fetches it with scripts/fetch-model gemma3 and sets it)"

std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

TEST(GoldenGemma3, ConfigIsTheGemma3Layout) {
  REQUIRE_GEMMA();
  const LlamaConfig& c = rm->model->config();
  EXPECT_EQ(c.arch, "gemma3");
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_EQ(c.swa_pattern, 6);
  // Layers 5, 11 and 17 are global; the others local.
  for (int l = 0; l < c.n_layers; ++l) EXPECT_EQ(c.is_local_layer(l), l % 6 != 5) << l;
  EXPECT_FLOAT_EQ(c.embd_scale, std::sqrt(640.f));
  EXPECT_FLOAT_EQ(c.attn_scale, 1.f / 16.f);
}

// Every case of llama.cpp's llama_tokenize on Gemma's 262k SentencePiece vocabulary.
TEST(GoldenGemma3, TokenizerMatchesLlamaCpp) {
  REQUIRE_GEMMA();
  json g = load_golden("tokenizer.json", "gemma3");
  ASSERT_FALSE(g.is_null()) << "tests/golden/gemma3/tokenizer.json is missing (scripts/make-golden gemma3)";
  int n = 0, mismatched = 0;
  for (const auto& c : g["cases"]) {
    ++n;
    const std::string text = from_hex(c["text_hex"].get<std::string>());
    const bool add_special = c["add_special"].get<bool>(), parse_special = c["parse_special"].get<bool>();
    const std::vector<int32_t> expect = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> got = rm->tok->encode(text, add_special, parse_special);
    if (got != expect && ++mismatched <= 10)
      ADD_FAILURE() << "case " << n << " (" << c["category"].get<std::string>() << ") text_hex="
                    << c["text_hex"].get<std::string>() << ": " << ::testing::PrintToString(got)
                    << " != " << ::testing::PrintToString(expect);
  }
  std::printf("golden gemma3 tokenizer: %d of %d cases as llama.cpp\n", n - mismatched, n);
  EXPECT_GT(n, 100);
  EXPECT_EQ(mismatched, 0);
}

TEST(GoldenGemma3, LogitsAgreeWithLlamaCpp) {
  REQUIRE_GEMMA();
  json g = load_golden("logits.json", "gemma3");
  ASSERT_FALSE(g.is_null()) << "tests/golden/gemma3/logits.json is missing (scripts/make-golden gemma3)";
  const LogitAgreement a = teacher_forced(*rm->model, g);
  ASSERT_GT(a.positions, 0);
  std::printf("golden gemma3 logits: %d positions, top-1 agreement %.4f, mean KL %.3g (max %.3g), mean tail mass %.4f\n",
              a.positions, a.top1, a.mean_kl, a.max_kl, a.mean_tail);
  // SmolLM2 (tests/unit/golden/golden_test.cpp) matches llama.cpp to the stored decimals
  // because turbine mirrors the rounding sequence of every kernel that model uses. Gemma's
  // mix runs K-quant and Q5_0 matrices, whose llama.cpp kernels (repacked on AVX2/AVX-512)
  // sum in orders turbine does not mirror yet: on the reference machine top-1 0.9688 and
  // mean KL 0.0065, already 9e-4 at position 0 where attention is the identity, so the gap
  // is in the matmuls. The bars sit at llama.cpp's own agreement across its two evaluation
  // paths on SmolLM2 (0.965 / 0.0029) with room for one more flip per case.
  EXPECT_GE(a.top1, 0.95);
  EXPECT_LE(a.mean_kl, 0.01);
}

// llama-perplexity -c 512 on GPL-3: each chunk starts with BOS (Gemma's add_bos_token), as
// turbine's perplexity does when the vocabulary asks for it.
TEST(GoldenGemma3, PerplexityMatchesLlamaCpp) {
  REQUIRE_GEMMA();
  json g = load_golden("perplexity.json", "gemma3");
  ASSERT_FALSE(g.is_null()) << "tests/golden/gemma3/perplexity.json is missing (scripts/make-golden gemma3)";
  auto text = perplexity_text(g);
  if (!text) GTEST_SKIP() << g["file"].get<std::string>() << " is not on this machine";
  std::vector<int32_t> tokens = rm->tok->encode(*text, true, false);
  EXPECT_EQ(static_cast<int64_t>(tokens.size()), g["n_tokens"].get<int64_t>());
  ASSERT_TRUE(rm->tok->vocab().add_bos);
  auto r = perplexity(*rm->model, tokens, g["ctx"].get<int>(), 512, rm->tok->bos());
  ASSERT_TRUE(r.ok()) << r.error();
  const double ref = g["ppl"].get<double>();
  std::printf("golden gemma3 perplexity: turbine %.4f, llama.cpp %.4f (%+.3f%%), %d chunks\n", r->ppl, ref,
              100 * (r->ppl / ref - 1), r->chunks);
  EXPECT_EQ(r->chunks, g["chunks"].get<int>());
  // The logits differ from llama.cpp's by the matmul rounding described above; 1% of the
  // perplexity is far below what a wrong norm, window or RoPE base costs (tens of percent).
  EXPECT_NEAR(r->ppl, ref, 1e-2 * ref);
}

}  // namespace
}  // namespace turbine
