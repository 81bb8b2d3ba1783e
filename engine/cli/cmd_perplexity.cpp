// `turbine perplexity -f FILE [-c 512]`: as llama-perplexity computes it (see
// engine/model/perplexity.h), so the two figures can be compared directly.
#include <CLI/CLI.hpp>

#include <fstream>
#include <sstream>

#include "engine/cli/commands.h"
#include "engine/cli/model_loader.h"
#include "base/log.h"
#include "engine/model/perplexity.h"

namespace turbine {

void add_perplexity_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("perplexity", "Perplexity of a text file (as llama-perplexity)");
  struct Opts {
    std::string model, file, device = "auto", kv_dtype = "f16";
    int threads = 0, ctx = 512, batch = 512;
    bool json = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->model, "GGUF model (default: the fetched SmolLM2-135M)");
  cmd->add_option("-f,--file", o->file, "text file")->required();
  cmd->add_option("-c,--ctx-size", o->ctx, "context size per chunk")->check(CLI::Range(8, 1 << 20));
  cmd->add_option("-b,--batch-size", o->batch, "tokens per forward call")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: physical cores)");
  cmd->add_option("--device", o->device, "cpu, cuda or auto");
  cmd->add_option("--kv-cache-dtype", o->kv_dtype, kKvCacheDtypeHelp);
  cmd->add_flag("--json", o->json, "print the result as JSON");
  cmd->callback([o] {
    std::ifstream in(o->file, std::ios::binary);
    if (!in) throw CliError("cannot read '" + o->file + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    auto kv = parse_kv_cache_dtype(o->kv_dtype);
    if (!kv) throw CliError(kv.error());
    auto lm = load_model(o->model, o->threads, o->device, true, *kv);
    if (!lm) throw CliError(lm.error());
    const Tokenizer& tok = *lm->tokenizer;
    std::string text = ss.str();
    if (!text.empty() && text.back() == '\n') text.pop_back();  // as llama.cpp reads -f
    std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
    std::optional<int32_t> bos;
    if (tok.vocab().add_bos && tok.bos() >= 0) bos = tok.bos();
    log::info("perplexity", {{"tokens", std::to_string(tokens.size())}, {"ctx", std::to_string(o->ctx)},
                             {"kv_cache_dtype", o->kv_dtype}});
    auto r = perplexity(*lm->model, tokens, o->ctx, o->batch, bos, [&](int c, int n, double ppl) {
      log::info("chunk", {{"done", std::to_string(c) + "/" + std::to_string(n)},
                          {"ppl", std::to_string(ppl)}});
    });
    if (!r) throw CliError(r.error());
    if (o->json) {
      std::printf("{\"ppl\":%.6f,\"nll_stderr\":%.6f,\"chunks\":%d,\"scored_tokens\":%lld,\"n_tokens\":%zu,\"ctx\":%d,"
                  "\"kv_cache_dtype\":\"%s\"}\n",
                  r->ppl, r->nll_stderr, r->chunks, static_cast<long long>(r->scored_tokens),
                  tokens.size(), o->ctx, o->kv_dtype.c_str());
    } else {
      std::printf("Final estimate: PPL = %.4f +/- %.5f (%d chunks of %d, %lld tokens scored)\n",
                  r->ppl, r->ppl * r->nll_stderr, r->chunks, o->ctx,
                  static_cast<long long>(r->scored_tokens));
    }
  });
}

}  // namespace turbine
