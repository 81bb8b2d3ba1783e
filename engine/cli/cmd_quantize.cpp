// `turbine quantize IN OUT --type TYPE [--method rtn|awq]`: rewrites a model's matrices in
// another storage type (engine/quant/quantize_model.h); with --method awq, first searches
// activation-aware scales on calibration text (engine/quant/awq.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "engine/cli/commands.h"
#include "engine/cli/model_loader.h"
#include "engine/quant/quantize_model.h"

namespace turbine {

namespace {
std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
}  // namespace

void add_quantize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("quantize", "Convert a GGUF model's weights to another type (RTN or AWQ)");
  struct Opts {
    std::string in, out, type, method = "rtn", embd_type;
    std::string calib = "/usr/share/common-licenses/GPL-3";
    int calib_tokens = 512, threads = 0;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("input", o->in, "source GGUF (any type turbine reads)")->required();
  cmd->add_option("output", o->out, "GGUF to write")->required();
  cmd->add_option("--type", o->type, "f32 f16 bf16 q8_0 q4_0 q4_1 w4g128")->required();
  cmd->add_option("--method", o->method, "rtn (round to nearest) or awq (activation-aware scales)")
      ->check(CLI::IsMember({"rtn", "awq"}));
  cmd->add_option("--embd-type", o->embd_type,
                  "type of the token embedding / LM head (default: q8_0 for 4-bit types, else --type)");
  cmd->add_option("--calib", o->calib, "calibration text for awq");
  cmd->add_option("--calib-tokens", o->calib_tokens, "calibration tokens for awq")->check(CLI::Range(16, 1 << 16));
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: physical cores)");
  cmd->callback([o] {
    auto type = parse_quant_type(o->type);
    if (!type) throw CliError(type.error());
    QuantizeOptions q;
    q.type = *type;
    q.method = o->method;
    if (!o->embd_type.empty()) {
      auto et = parse_quant_type(o->embd_type);
      if (!et) throw CliError(et.error());
      q.embd_type = *et;
    }
    // AWQ needs the tokenizer for the calibration text; RTN only the weights.
    auto lm = load_model(o->in, o->threads, "cpu", /*need_tokenizer=*/o->method == "awq");
    if (!lm) throw CliError(lm.error());
    AwqResult awq;
    if (o->method == "awq") {
      std::ifstream f(o->calib, std::ios::binary);
      if (!f) throw CliError("cannot read calibration text '" + o->calib + "'");
      std::stringstream ss;
      ss << f.rdbuf();
      std::vector<int32_t> tokens = lm->tokenizer->encode(ss.str(), /*add_special=*/true, /*parse_special=*/false);
      if (tokens.size() > size_t(o->calib_tokens)) tokens.resize(o->calib_tokens);
      log::info("awq calibration", {{"file", o->calib}, {"tokens", std::to_string(tokens.size())}});
      AwqOptions ao;
      ao.type = q.type;
      ao.threads = o->threads;
      ProgressBar bar("awq search");
      ao.progress = [&](double f) { bar.update(f); };
      auto r = awq_search(lm->file, tokens, ao);
      bar.done();
      if (!r) throw CliError(r.error());
      awq = std::move(*r);
      double rtn = 0, best = 0;
      for (const auto& g : awq.groups) rtn += g.loss_rtn, best += g.loss_awq;
      log::info("awq search done", {{"groups", std::to_string(awq.groups.size())},
                                    {"calib_tokens", std::to_string(awq.calib_tokens)},
                                    {"output_error_vs_rtn", fmt("%.3f", best / std::max(rtn, 1e-30))}});
      q.plan = &awq.plan;
    }
    lm->model.reset();
    ProgressBar bar("quantizing");
    q.progress = [&](double f) { bar.update(f); };
    auto s = quantize_model(lm->file, o->out, q);
    bar.done();
    if (!s) throw CliError(s.error());
    log::info("quantized model written",
              {{"path", o->out}, {"type", std::string(dtype_name(q.type))},
               {"embd_type", std::string(dtype_name(s->embd_type))}, {"method", o->method},
               {"tensors", std::to_string(s->tensors)},
               {"mb_in", fmt("%.1f", s->in_bytes / 1e6)}, {"mb_out", fmt("%.1f", s->out_bytes / 1e6)},
               {"bits_per_weight", fmt("%.3f", 8.0 * s->out_bytes / std::max<int64_t>(s->params, 1))}});
  });
}

}  // namespace turbine
