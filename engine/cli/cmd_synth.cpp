// `turbine synth`: writes a Llama-shaped GGUF with seeded random weights (see
// engine/model/synth.h). Presets give the shapes benchmarks use.
#include <CLI/CLI.hpp>

#include <map>

#include "engine/cli/commands.h"
#include "engine/cli/model_loader.h"
#include "base/log.h"
#include "engine/model/synth.h"

namespace turbine {

namespace {
Result<DType> parse_type(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(c));
  static const std::map<std::string, DType> kTypes = {
      {"f32", DType::kF32},   {"f16", DType::kF16},   {"bf16", DType::kBF16},
      {"q8_0", DType::kQ8_0}, {"q4_0", DType::kQ4_0}, {"q4_1", DType::kQ4_1},
      {"q4_k", DType::kQ4_K}, {"q6_k", DType::kQ6_K}, {"q5_0", DType::kQ5_0},
      {"q5_1", DType::kQ5_1}, {"q2_k", DType::kQ2_K}, {"q3_k", DType::kQ3_K},
      {"q5_k", DType::kQ5_K}};
  auto it = kTypes.find(s);
  if (it == kTypes.end())
    return Error{"unknown tensor type '" + s +
                 "' (f32, f16, bf16, q8_0, q4_0, q4_1, q4_k, q6_k, q5_0, q5_1, q2_k, q3_k, q5_k)"};
  return it->second;
}
}  // namespace

void add_synth_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a synthetic Llama-shaped GGUF with random weights");
  struct Opts {
    SynthOptions s;
    std::string out, preset = "tiny", type = "q8_0", embd_type;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-o,--output", o->out, "output .gguf path")->required();
  cmd->add_option("--preset", o->preset, "tiny | smollm2-135m | llama2-7b (other flags override)")
      ->check(CLI::IsMember({"tiny", "smollm2-135m", "llama2-7b"}));
  auto* layers = cmd->add_option("--layers", o->s.n_layers, "transformer blocks");
  auto* hidden = cmd->add_option("--hidden", o->s.n_embd, "embedding width");
  auto* ffn = cmd->add_option("--ffn", o->s.n_ff, "feed-forward width");
  auto* heads = cmd->add_option("--heads", o->s.n_heads, "attention heads");
  auto* kv = cmd->add_option("--kv-heads", o->s.n_kv_heads, "key/value heads (GQA)");
  auto* vocab = cmd->add_option("--vocab", o->s.n_vocab, "vocabulary size (>= 259)");
  cmd->add_option("--type", o->type, "weight type: f32 f16 bf16 q8_0 q4_0 q4_1 q4_k q6_k q5_0 q5_1 q2_k q3_k q5_k");
  cmd->add_option("--embd-type", o->embd_type, "token embedding type (default: --type)");
  cmd->add_option("--arch", o->s.arch,
                  "architecture: llama | qwen2 (Q/K/V biases) | qwen3 (per-head Q/K norms) | gemma3")
      ->check(CLI::IsMember({"llama", "qwen2", "qwen3", "gemma3"}));
  cmd->add_option("--sliding-window", o->s.sliding_window, "gemma3: local layers' window (default 8)");
  cmd->add_option("--head-dim", o->s.head_dim, "head size when it is not hidden / heads (Qwen3 style)");
  cmd->add_option("--rope-scaling", o->s.rope_scaling,
                  "none | linear (rope.scaling.factor) | llama3 (a rope_freqs tensor)")
      ->check(CLI::IsMember({"none", "linear", "llama3"}));
  cmd->add_option("--rope-factor", o->s.rope_factor, "RoPE scaling factor (default 8)");
  auto* ctx = cmd->add_option("--ctx", o->s.context_length, "context length (llama3 scaling: the original one)");
  cmd->add_option("--seed", o->s.seed, "random seed");
  cmd->add_flag("--untied", [o](int64_t) { o->s.tied_embeddings = false; }, "separate output matrix");
  cmd->callback([o, layers, hidden, ffn, heads, kv, vocab, ctx] {
    SynthOptions p;
    if (o->preset == "smollm2-135m") {
      p.n_layers = 30, p.n_embd = 576, p.n_ff = 1536, p.n_heads = 9, p.n_kv_heads = 3,
      p.n_vocab = 49152, p.rope_theta = 100000.f, p.context_length = 8192;
    } else if (o->preset == "llama2-7b") {
      p.n_layers = 32, p.n_embd = 4096, p.n_ff = 11008, p.n_heads = 32, p.n_kv_heads = 32,
      p.n_vocab = 32000, p.context_length = 4096, p.tied_embeddings = false;
    }
    if (layers->count()) p.n_layers = o->s.n_layers;
    if (hidden->count()) p.n_embd = o->s.n_embd;
    if (ffn->count()) p.n_ff = o->s.n_ff;
    if (heads->count()) p.n_heads = o->s.n_heads;
    if (kv->count()) p.n_kv_heads = o->s.n_kv_heads;
    if (vocab->count()) p.n_vocab = o->s.n_vocab;
    if (!o->s.tied_embeddings) p.tied_embeddings = false;
    p.seed = o->s.seed;
    p.arch = o->s.arch;
    p.sliding_window = o->s.sliding_window;
    p.rope_scaling = o->s.rope_scaling;
    p.rope_factor = o->s.rope_factor;
    if (ctx->count()) p.context_length = o->s.context_length;
    p.head_dim = o->s.head_dim;
    auto t = parse_type(o->type);
    if (!t) throw CliError(t.error());
    p.weight_type = *t;
    auto et = parse_type(o->embd_type.empty() ? o->type : o->embd_type);
    if (!et) throw CliError(et.error());
    p.embd_type = *et;
    p.name = "synthetic-" + o->preset;
    if (Status s = validate(p); !s) throw CliError(s.error());
    ProgressBar bar("synthesizing");
    p.progress = [&](size_t d, size_t n) { bar.update(double(d) / n); };
    Status s = synth_model_file(p, o->out);
    bar.done();
    if (!s) throw CliError(s.error());
    log::info("synthetic model written", {{"path", o->out}, {"type", o->type},
                                          {"arch", p.arch},
                                          {"layers", std::to_string(p.n_layers)},
                                          {"hidden", std::to_string(p.n_embd)}});
  });
}

}  // namespace turbine
