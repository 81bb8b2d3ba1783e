// The OpenAI-compatible HTTP front end (cpp-httplib). Handlers parse and validate, render
// the chat template, tokenize, submit to the Engine and stream tokens back; they never
// touch the engine loop's state.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "engine/runtime/engine.h"
#include "engine/server/api_keys.h"
#include "engine/server/openai_request.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class EngineMetrics;

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  std::string model_id = "SmolLM2-135M-Instruct";  // the id /v1/models lists
  ApiKeys api_keys;
  size_t max_body_bytes = 8 << 20;
  int max_prompt_tokens = 0;  // 0: the engine's context limit
  int default_max_tokens = 0;  // 0: up to the context limit
  std::chrono::milliseconds drain_timeout{30000};
  int http_threads = 32;
  RequestLimits limits;
  bool use_default_system_prompt = true;  // the chat template's own default system message
};

class HttpServer {
 public:
  HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerOptions opt,
             EngineMetrics* metrics = nullptr);
  ~HttpServer();

  // Binds and serves until stop(); returns false (with a log line) when it cannot bind.
  bool listen();
  // For tests: bind to port 0 and return the chosen port, then serve in the background.
  int bound_port() const;
  // Readiness off at once, new requests 503, waits for in-flight requests (bounded by the
  // drain timeout), then stops the listener. Requests still running at the deadline are
  // ended (the engine stops), so their handlers answer and the listener can shut down.
  void drain_and_stop();
  void stop();
  bool draining() const { return draining_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> draining_{false};
};

}  // namespace turbine
