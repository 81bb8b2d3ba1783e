// `turbine serve`'s HTTP front end: the API routes (api_routes.h) on a listener, and the
// drain on SIGTERM. The listener is cpp-httplib; handlers see only base/http's types.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "engine/runtime/engine.h"
#include "engine/server/api_options.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class EngineMetrics;

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;
  std::chrono::milliseconds drain_timeout{30000};
  int http_threads = 32;
  ApiOptions api;
};

class HttpServer {
 public:
  HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerOptions opt,
             EngineMetrics* metrics = nullptr);
  ~HttpServer();

  // Binds and serves until stop(); returns false (with a log line) when it cannot bind.
  bool listen();
  // The bound port (after listen() has bound; port 0 picks one).
  int bound_port() const;
  // Readiness off at once, new requests 503, waits for in-flight requests (bounded by the
  // drain timeout), then stops the listener. Requests still running at the deadline are
  // ended (the engine stops), so their handlers answer and the listener can shut down.
  void drain_and_stop();
  void stop();
  bool draining() const { return draining_.load(); }

 private:
  struct Impl;
  std::atomic<bool> draining_{false};
  std::unique_ptr<Impl> impl_;
};

}  // namespace turbine
