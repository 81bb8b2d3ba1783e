// `turbine serve`: load the model, start the engine loop and the HTTP API; on SIGTERM or
// SIGINT drain (readiness off, new requests 503, in-flight ones finish within
// --drain-timeout) and exit 0.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <pthread.h>
#include <thread>

#include "engine/cli/commands.h"
#include "engine/cli/model_loader.h"
#include "base/log.h"
#include "engine/runtime/engine_metrics.h"
#include "engine/runtime/engine.h"
#include "engine/runtime/kv_sizing.h"
#include "engine/server/http_server.h"
#include "engine/server/serve_config.h"

namespace turbine {

void add_serve_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("serve", "Serve the OpenAI-compatible HTTP API");
  auto c = std::make_shared<ServeConfig>();
  auto config_file = std::make_shared<std::string>();
  cmd->add_option("--config", *config_file, "YAML file whose keys mirror these flags");
  cmd->add_option("-m,--model", c->model, "GGUF model (default: the fetched SmolLM2-135M)");
  cmd->add_option("--served-model-name", c->served_model_name, "model id in the API (default: file name without .gguf)");
  cmd->add_option("--host", c->host, "address to bind");
  cmd->add_option("--port", c->port, "port (default 8000)");
  cmd->add_option("--admin-port", c->admin_port, "port of a second listener with only /health /ready /load /metrics, on its own threads (for probes and scrapes; default: none)");
  cmd->add_flag("--metrics-auth", c->metrics_auth, "/metrics and /load on the API port need the API key too");
  cmd->add_option("--max-connections", c->max_connections, "open connections on the API port before new ones get 503");
  cmd->add_option("--keep-alive-timeout", c->keep_alive_timeout_s, "seconds an idle connection stays open between requests");
  cmd->add_option("--device", c->device, "cpu, cuda or auto");
  cmd->add_option("-t,--threads", c->threads, "CPU threads (default: physical cores)");
  cmd->add_option("--api-key", c->api_keys, "accepted API key (repeatable; also TURBINE_API_KEYS=a,b)");
  cmd->add_option("--kv-cache-fraction", c->kv_cache_fraction, "fraction of free memory for the KV cache");
  cmd->add_option("--kv-cache-dtype", c->kv_cache_dtype, kKvCacheDtypeHelp);
  cmd->add_option("--kv-blocks", c->kv_blocks, "KV cache size in blocks (overrides the fraction)");
  cmd->add_option("--kv-cache-mb", c->kv_cache_mb,
                  "KV cache size in MiB, whatever its dtype (overrides the fraction)");
  cmd->add_option("--block-size", c->block_size, "tokens per KV block (16, 32, 64)");
  cmd->add_option("--max-batch-tokens", c->max_batch_tokens, "tokens per engine step");
  cmd->add_option("--max-running", c->max_running, "sequences decoding at once");
  cmd->add_option("--max-queue", c->max_queue, "waiting requests before answering 429");
  cmd->add_option("--max-prompt-tokens", c->max_prompt_tokens, "longest prompt accepted (413 beyond)");
  cmd->add_option("--max-tokens-default", c->max_tokens_default, "max_tokens when a request gives none (0: up to the context)");
  cmd->add_option("--request-timeout", c->request_timeout_s, "seconds before a request is cut off (0: never)");
  cmd->add_option("--drain-timeout", c->drain_timeout_s, "seconds in-flight requests get after SIGTERM");
  cmd->add_option("--max-body-bytes", c->max_body_bytes, "largest request body (413 beyond)");
  cmd->add_option("--http-threads", c->http_threads, "HTTP worker threads (0: max-running + max-queue + 16, so a full queue answers 429 rather than stalling connections)");
  cmd->add_flag("--prefix-caching,!--no-prefix-caching", c->prefix_caching, "reuse KV blocks of shared prompt prefixes");
  cmd->add_flag("--log-json", c->log_json, "log one JSON object per line (for log collectors)");
  cmd->callback([cmd, c, config_file] {
    if (!config_file->empty()) {
      Status s = apply_config_file(*config_file, *c, [cmd](const std::string& key) {
        auto* o = cmd->get_option_no_throw("--" + key);
        return o && o->count() > 0;
      });
      if (!s) throw CliError(s.error());
    }
    if (Status s = validate(*c); !s) throw CliError(s.error());
    if (c->log_json) process_logger().set_json(true);

    // Block the shutdown signals in every thread; one thread waits for them.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    auto kv_type = parse_kv_cache_dtype(c->kv_cache_dtype);
    if (!kv_type) throw CliError(kv_type.error());
    auto lm = load_model(c->model, c->threads, c->device, true, *kv_type);
    if (!lm) throw CliError(lm.error());
    KvPoolRequest kv = kv_request_for(*lm->model, *lm->backend, c->block_size);
    kv.explicit_blocks = c->kv_blocks;
    kv.explicit_bytes = size_t(c->kv_cache_mb) << 20;
    kv.memory_fraction = c->kv_cache_fraction;
    kv.max_sequences = c->max_running;
    kv.serving = true;
    auto plan = plan_kv_pool(kv);
    if (!plan) throw CliError(plan.error());

    EngineConfig ec;
    ec.block_size = c->block_size;
    ec.num_blocks = plan->num_blocks;
    ec.max_batch_tokens = c->max_batch_tokens;
    ec.max_running = c->max_running;
    ec.max_queue = c->max_queue;
    ec.request_timeout = std::chrono::milliseconds(std::llround(c->request_timeout_s * 1000));
    ec.prefix_caching = c->prefix_caching;

    std::string model_id = c->served_model_name;
    if (model_id.empty()) {
      model_id = std::filesystem::path(lm->file->path()).filename().string();
      if (model_id.size() > 5 && model_id.ends_with(".gguf")) model_id.resize(model_id.size() - 5);
    }
    static EngineMetrics metrics;  // on the process-wide registry /metrics exposes
    metrics.set_build_info(TURBINE_VERSION, lm->backend->name(), model_id, lm->model->config().arch);
    Engine engine(*lm->model, *lm->tokenizer, ec, &metrics);
    // Read at every scrape: scratch buffers grow after start-up and other processes may
    // share the device. The CPU backend has no device numbers, so the series stay absent.
    metrics.watch_device_memory("0", [be = lm->backend.get()](double* used, double* total) {
      Backend::MemoryInfo mem;
      if (!be->memory_info(&mem)) return false;
      *used = static_cast<double>(mem.total - std::min(mem.free, mem.total));
      *total = static_cast<double>(mem.total);
      return true;
    });
    struct DetachProbe {  // the backend dies with this scope; the registry lives on
      EngineMetrics& m;
      ~DetachProbe() { m.watch_device_memory("0", nullptr); }
    } detach_probe{metrics};

    ServerOptions so;
    so.host = c->host;
    so.port = c->port;
    so.api.model_id = model_id;
    so.api.model_arch = lm->model->config().arch;
    for (const auto& k : c->api_keys) so.api.api_keys.add(k);
    if (const char* env = std::getenv("TURBINE_API_KEYS")) {
      const ApiKeys from_env = ApiKeys::from_list(env);  // named: a temporary dies before the loop
      for (const auto& k : from_env.keys()) so.api.api_keys.add(k);
    }
    if (c->metrics_auth && !so.api.api_keys.enabled())
      throw CliError("--metrics-auth needs an API key (--api-key or TURBINE_API_KEYS)");
    so.api.max_body_bytes = static_cast<size_t>(c->max_body_bytes);
    so.api.max_prompt_tokens = c->max_prompt_tokens;
    so.api.default_max_tokens = c->max_tokens_default;
    so.admin_port = c->admin_port;
    so.api.metrics_auth = c->metrics_auth;
    so.max_connections = c->max_connections;
    so.keep_alive_timeout = std::chrono::milliseconds(std::llround(c->keep_alive_timeout_s * 1000));
    so.drain_timeout = std::chrono::milliseconds(std::llround(c->drain_timeout_s * 1000));
    so.http_threads = c->http_threads > 0 ? c->http_threads : c->max_running + c->max_queue + 16;
    HttpServer server(engine, *lm->tokenizer, so, &metrics);
    log::info("engine ready", {{"kv_blocks", std::to_string(ec.num_blocks)},
                               {"kv_mb", std::to_string(plan->bytes >> 20)},
                               {"kv_sized_by", plan->basis},
                               {"kv_cache_dtype", c->kv_cache_dtype},
                               {"kv_tokens", std::to_string(int64_t{ec.num_blocks} * ec.block_size)},
                               {"block_size", std::to_string(ec.block_size)},
                               {"max_context", std::to_string(engine.max_context_tokens())},
                               {"auth", so.api.api_keys.enabled() ? "on" : "off"}});

    std::thread signals([&] {
      int sig = 0;
      sigwait(&sigs, &sig);
      log::info("signal received; draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      server.drain_and_stop();
    });
    bool ok = server.listen();
    if (!ok) {
      // Wake the signal thread so it can exit.
      pthread_kill(signals.native_handle(), SIGTERM);
      signals.join();
      engine.stop();
      throw CliError("cannot listen on " + c->host + ":" + std::to_string(c->port) + " (port in use?)");
    }
    signals.join();
    engine.stop();
    log::info("stopped");
  });
}

}  // namespace turbine
