// Shared by the golden tests (turbine against llama.cpp on real models): the committed
// reference data, the real model named by an environment variable, and teacher-forced
// logit agreement.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/model/llama_model.h"
#include "engine/model/single_sequence.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine::golden {

using json = nlohmann::json;

// tests/golden/NAME (for SmolLM2) or tests/golden/DIR/NAME.
inline json load_golden(const std::string& name, const std::string& dir = "") {
  std::ifstream in(std::string(TURBINE_SOURCE_DIR) + "/tests/golden/" + (dir.empty() ? "" : dir + "/") + name);
  if (!in) return json();
  return json::parse(in);
}

struct RealModel {
  std::shared_ptr<GgufFile> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tok;
};

// The model at $env_var on `backend`, or nullptr when the variable is unset or the file does
// not load.
inline RealModel* load_real_model(std::unique_ptr<Backend> backend, const char* env_var = "TURBINE_MODEL") {
  const char* path = std::getenv(env_var);
  if (!path || !*path) return nullptr;
  auto f = GgufFile::open(path);
  if (!f) return nullptr;
  auto* r = new RealModel;
  r->file = *f;
  r->backend = std::move(backend);
  auto lm = LlamaModel::load(r->file, *r->backend);
  if (!lm) return nullptr;
  r->model = std::move(*lm);
  auto v = vocab_from_gguf(*r->file);
  if (!v) return nullptr;
  auto t = Tokenizer::create(std::move(*v));
  if (!t) return nullptr;
  r->tok = std::make_unique<Tokenizer>(std::move(*t));
  return r;
}


// The text a perplexity golden was computed on, as llama-perplexity -f reads it (one
// trailing newline dropped), or nothing when the file is not on this machine.
inline std::optional<std::string> perplexity_text(const json& g) {
  std::ifstream in(g["file"].get<std::string>(), std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

inline std::vector<double> log_softmax(const float* l, int n) {
  double mx = -1e300;
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(l[i]));
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(double(l[i]) - mx);
  double lse = mx + std::log(s);
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = double(l[i]) - lse;
  return out;
}

struct LogitAgreement {
  int positions = 0;
  double top1 = 0, mean_kl = 0, max_kl = 0, mean_tail = 0;
};

// Teacher-forced logits of `model` against llama.cpp's: top-1 agreement and mean KL(llama ||
// turbine). llama.cpp's distribution is stored as its top 64 tokens; the mass outside them
// is one more bucket (so this KL is a lower bound of the full one, tight when the top 64
// carry nearly all the mass, which the test also reports).
inline LogitAgreement teacher_forced(LlamaModel& model, const json& g, size_t max_cases = SIZE_MAX) {
  const int V = model.config().n_vocab;
  LogitAgreement a;
  int agree = 0;
  double kl_sum = 0, tail_sum = 0;
  size_t n_cases = 0;
  for (const auto& c : g["cases"]) {
    if (n_cases++ == max_cases) break;
    std::vector<int32_t> ids = c["ids"].get<std::vector<int32_t>>();
    SingleSequence seq(model, static_cast<int>(ids.size()) + 1);
    std::vector<float> logits = seq.eval(ids, /*all_logits=*/true);
    for (size_t p = 0; p < ids.size(); ++p) {
      auto lp = log_softmax(logits.data() + p * V, V);
      const auto& top_ids = c["top_ids"][p];
      const auto& top_lp = c["top_logprobs"][p];
      int ours = static_cast<int>(std::max_element(lp.begin(), lp.end()) - lp.begin());
      agree += ours == top_ids[0].get<int>();
      double kl = 0, p_top = 0, q_top = 0;
      for (size_t k = 0; k < top_ids.size(); ++k) {
        double pl = top_lp[k].get<double>();
        double pp = std::exp(pl);
        double ql = lp[top_ids[k].get<int>()];
        kl += pp * (pl - ql);
        p_top += pp;
        q_top += std::exp(ql);
      }
      double p_tail = std::max(0.0, 1 - p_top), q_tail = std::max(1e-12, 1 - q_top);
      if (p_tail > 1e-12) kl += p_tail * std::log(p_tail / q_tail);
      kl_sum += kl;
      a.max_kl = std::max(a.max_kl, kl);
      tail_sum += p_tail;
      ++a.positions;
    }
  }
  if (a.positions > 0) {
    a.top1 = double(agree) / a.positions;
    a.mean_kl = kl_sum / a.positions;
    a.mean_tail = tail_sum / a.positions;
  }
  return a;
}

}  // namespace turbine::golden
