// The routes of `turbine serve`: the OpenAI API (models, chat/completions, completions,
// tokenize, detokenize) and the probes and scrapes (health, ready, load, metrics). Plain
// handlers over http::Request/Response: the transport (http_server.h) owns connections,
// timeouts and threads; this owns what each path answers.
#pragma once
#include <atomic>
#include <optional>
#include <string>

#include "base/http/router.h"
#include "engine/runtime/engine.h"
#include "engine/server/api_options.h"
#include "engine/server/generate_handler.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class EngineMetrics;

class ApiRoutes {
 public:
  // `draining` is read on every request: set, readiness fails and new work answers 503.
  ApiRoutes(Engine& engine, const Tokenizer& tok, ApiOptions opt, EngineMetrics* metrics,
            const std::atomic<bool>& draining);
  ApiRoutes(const ApiRoutes&) = delete;
  ApiRoutes& operator=(const ApiRoutes&) = delete;

  // /health, /ready, /load, /metrics. On the API port (`api_port`) with metrics_auth,
  // /load and /metrics need the API key.
  void add_probe_routes(http::Router& router, bool api_port) const;
  // /v1/models, /v1/chat/completions, /v1/completions, /tokenize, /detokenize.
  void add_api_routes(http::Router& router) const;

  // 404/405 in OpenAI's error shape.
  static http::Response error_page(int status, const http::Request& req);

  const ApiOptions& options() const { return opt_; }

 private:
  // Auth and draining: the rejection a request gets before any work, if any.
  std::optional<Rejection> gate(const http::Request& req) const;
  // 415 unless the body is declared application/json.
  static std::optional<Rejection> require_json(const http::Request& req);

  http::Response health() const;
  http::Response ready() const;
  http::Response load() const;
  http::Response models(const http::Request& req) const;
  http::Response tokenize(const http::Request& req) const;
  http::Response detokenize(const http::Request& req) const;

  Engine& engine_;
  const Tokenizer& tok_;
  ApiOptions opt_;
  EngineMetrics* metrics_;
  const std::atomic<bool>& draining_;
  std::optional<ChatTemplate> chat_template_;
  std::string chat_template_error_;
  std::optional<GenerateHandler> generate_;
};

}  // namespace turbine
