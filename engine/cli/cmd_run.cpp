// `turbine run` and `turbine chat`: generation through the same Engine the server uses, so
// the CLI and the HTTP API produce the same tokens for the same request.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <unistd.h>

#include "engine/cli/commands.h"
#include "engine/cli/model_loader.h"
#include "base/log.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/kv_sizing.h"
#include "engine/tokenizer/chat_template.h"

namespace turbine {
namespace {

struct GenOpts {
  std::string model, prompt, system, device = "auto", kv_dtype = "f16";
  int n = 128, threads = 0, ctx = 4096;
  float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, repeat_penalty = 1.0f;
  float presence_penalty = 0.f, frequency_penalty = 0.f;
  int top_k = 40;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  bool chat = false, ignore_eos = false, no_default_system = false;
};

void add_gen_options(CLI::App* cmd, GenOpts& o) {
  cmd->add_option("-m,--model", o.model, "GGUF model (default: the fetched SmolLM2-135M)");
  cmd->add_option("-t,--threads", o.threads, "CPU threads (default: physical cores)");
  cmd->add_option("--device", o.device, "cpu, cuda or auto");
  cmd->add_option("-c,--ctx-size", o.ctx, "context size (tokens)")->check(CLI::Range(16, 1 << 20));
  cmd->add_option("--kv-cache-dtype", o.kv_dtype, kKvCacheDtypeHelp);
  cmd->add_option("--temp", o.temp, "temperature (0 = greedy)")->check(CLI::Range(0.0, 2.0));
  cmd->add_option("--top-k", o.top_k, "top-k (0 = off)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--top-p", o.top_p, "top-p (1 = off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", o.min_p, "min-p (0 = off)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", o.repeat_penalty, "repetition penalty (1 = off)")->check(CLI::Range(0.01, 10.0));
  cmd->add_option("--presence-penalty", o.presence_penalty, "OpenAI presence penalty")->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("--frequency-penalty", o.frequency_penalty, "OpenAI frequency penalty")->check(CLI::Range(-2.0, 2.0));
  cmd->add_option("-s,--seed", o.seed, "random seed (same seed, same output)");
  cmd->add_option("--stop", o.stop, "stop string (repeatable)");
  cmd->add_flag("--ignore-eos", o.ignore_eos, "keep generating past end-of-generation tokens");
  cmd->add_option("--system", o.system, "system message for --chat / chat");
}

SamplingParams sampling_of(const GenOpts& o) {
  SamplingParams p;
  p.temperature = o.temp;
  p.top_k = o.top_k;
  p.top_p = o.top_p;
  p.min_p = o.min_p;
  p.repetition_penalty = o.repeat_penalty;
  p.presence_penalty = o.presence_penalty;
  p.frequency_penalty = o.frequency_penalty;
  p.seed = o.seed;
  p.stop = o.stop;
  p.ignore_eos = o.ignore_eos;
  return p;
}

// One sequence of up to `ctx` tokens (capped by the model's context), sized by the same rule
// as the server's pool (runtime/kv_sizing.h).
EngineConfig engine_config_for(LoadedModel& lm, int ctx) {
  KvPoolRequest kv = kv_request_for(*lm.model, *lm.backend, 16);
  kv.context_tokens = std::min(ctx, lm.model->config().context_length);
  kv.max_sequences = 1;
  auto plan = plan_kv_pool(kv);
  if (!plan) throw CliError(plan.error());
  EngineConfig ec;
  ec.block_size = kv.block_size;
  ec.num_blocks = plan->num_blocks;
  ec.max_batch_tokens = 512;
  ec.max_running = 1;
  ec.max_queue = 4;
  return ec;
}

// Streams one generation to `out`; returns the generated text.
std::string generate(Engine& engine, std::vector<int32_t> prompt, const GenOpts& o, FILE* out) {
  GenerationSpec spec;
  spec.prompt = std::move(prompt);
  spec.max_tokens = o.n;
  spec.sampling = sampling_of(o);
  auto sub = engine.submit(std::move(spec));
  if (auto* r = std::get_if<AdmitError>(&sub)) throw CliError(r->message);
  auto ch = std::get<std::shared_ptr<RequestChannel>>(sub);
  std::string text;
  for (;;) {
    auto ev = ch->next(std::chrono::milliseconds(1000));
    if (!ev) continue;
    if (ev->token && !ev->token->text.empty()) {
      text += ev->token->text;
      std::fwrite(ev->token->text.data(), 1, ev->token->text.size(), out);
      std::fflush(out);
    }
    if (ev->finish) {
      text += ev->finish->text;
      std::fwrite(ev->finish->text.data(), 1, ev->finish->text.size(), out);
      std::fflush(out);
      if (ev->finish->reason == FinishReason::kError)
        throw CliError("generation failed: " + ev->finish->error);
      log::info("done", {{"finish_reason", std::string(to_string(ev->finish->reason))},
                         {"prompt_tokens", std::to_string(ev->finish->prompt_tokens)},
                         {"completion_tokens", std::to_string(ev->finish->completion_tokens)}});
      break;
    }
  }
  return text;
}

}  // namespace

void add_run_commands(CLI::App& app) {
  auto* run = app.add_subcommand("run", "Generate text for one prompt (text on stdout, logs on stderr)");
  auto ro = std::make_shared<GenOpts>();
  run->add_option("-p,--prompt", ro->prompt, "prompt text")->required();
  run->add_option("-n,--n-predict", ro->n, "tokens to generate")->check(CLI::Range(1, 1 << 20));
  run->add_flag("--chat", ro->chat, "wrap the prompt in the model's chat template");
  add_gen_options(run, *ro);
  run->callback([ro] {
    auto kv = parse_kv_cache_dtype(ro->kv_dtype);
    if (!kv) throw CliError(kv.error());
    auto lm = load_model(ro->model, ro->threads, ro->device, true, *kv);
    if (!lm) throw CliError(lm.error());
    const Tokenizer& tok = *lm->tokenizer;
    std::vector<int32_t> prompt;
    if (ro->chat) {
      auto ct = ChatTemplate::detect(tok.vocab().chat_template);
      if (!ct) throw CliError(ct.error());
      std::vector<ChatMessage> msgs;
      if (!ro->system.empty()) msgs.push_back({"system", ro->system});
      msgs.push_back({"user", ro->prompt});
      prompt = tok.encode(ct->render(msgs, true), true, true);
    } else {
      prompt = tok.encode(ro->prompt, true, false);
    }
    if (static_cast<int>(prompt.size()) + ro->n > ro->ctx)
      ro->ctx = static_cast<int>(prompt.size()) + ro->n;
    Engine engine(*lm->model, tok, engine_config_for(*lm, ro->ctx));
    generate(engine, std::move(prompt), *ro, stdout);
    engine.stop();
  });

  auto* chat = app.add_subcommand("chat", "Interactive chat with the model's template (streamed)");
  auto co = std::make_shared<GenOpts>();
  co->n = 512;
  chat->add_option("-n,--n-predict", co->n, "most tokens per reply")->check(CLI::Range(1, 1 << 20));
  add_gen_options(chat, *co);
  chat->callback([co] {
    auto kv = parse_kv_cache_dtype(co->kv_dtype);
    if (!kv) throw CliError(kv.error());
    auto lm = load_model(co->model, co->threads, co->device, true, *kv);
    if (!lm) throw CliError(lm.error());
    const Tokenizer& tok = *lm->tokenizer;
    auto ct = ChatTemplate::detect(tok.vocab().chat_template);
    if (!ct) throw CliError(ct.error());
    Engine engine(*lm->model, tok, engine_config_for(*lm, co->ctx));
    std::vector<ChatMessage> history;
    if (!co->system.empty()) history.push_back({"system", co->system});
    bool tty = isatty(0);
    std::string line;
    for (;;) {
      if (tty) std::fputs("\n> ", stdout), std::fflush(stdout);
      if (!std::getline(std::cin, line)) break;
      if (line == "/exit" || line == "/quit") break;
      if (line == "/reset") {
        history.resize(co->system.empty() ? 0 : 1);
        continue;
      }
      if (line.empty()) continue;
      history.push_back({"user", line});
      auto prompt = tok.encode(ct->render(history, true), true, true);
      if (static_cast<int>(prompt.size()) + co->n > engine.max_context_tokens()) {
        std::fputs("[context full: /reset to start over]\n", stdout);
        history.pop_back();
        continue;
      }
      std::string reply = generate(engine, std::move(prompt), *co, stdout);
      std::fputs("\n", stdout);
      history.push_back({"assistant", reply});
    }
    engine.stop();
  });
}

}  // namespace turbine
