// `turbine serve`'s HTTP front end: the API routes (api_routes.h) on the API listener, the
// probes and scrapes also on their own admin listener (--admin-port, its own threads, so
// no load or slow client on the API port can fail a liveness probe), and the drain on
// SIGTERM. Both listeners are base/http's server: a worker sees a request only once it has
// arrived whole, within the deadlines of ServerLimits.
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
  int port = 8000;      // 0: any free port (tests)
  int admin_port = -1;  // -1: no admin listener; 0: any free port
  std::chrono::milliseconds drain_timeout{30000};
  int http_threads = 32;  // API handler threads
  int max_connections = 1024;
  std::chrono::milliseconds keep_alive_timeout{30000};
  ApiOptions api;
};

class HttpServer {
 public:
  HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerOptions opt,
             EngineMetrics* metrics = nullptr);
  ~HttpServer();

  // Binds the listeners and serves until stop(); false (with a log line) when one cannot
  // bind.
  bool listen();
  // The bound ports (after listen() has bound; 0 picks one). admin_port() is -1 without one.
  int bound_port() const;
  int admin_port() const;
  // Readiness off at once, new requests 503, waits for in-flight requests (bounded by the
  // drain timeout), then stops the listeners. Requests still running at the deadline are
  // ended (the engine stops), so their handlers answer and the listeners can shut down.
  void drain_and_stop();
  void stop();
  bool draining() const { return draining_.load(); }

 private:
  struct Impl;
  std::atomic<bool> draining_{false};
  std::unique_ptr<Impl> impl_;
};

}  // namespace turbine
