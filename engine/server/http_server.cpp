#include "engine/server/http_server.h"

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "base/http/router.h"
#include "base/http/server.h"
#include "base/log.h"
#include "engine/server/api_routes.h"
#include "engine/server/rejection.h"

namespace turbine {

namespace {

// Transport errors (malformed, too slow, too large, too many connections) in OpenAI's shape.
http::Response transport_error(int status, const std::string& message) {
  ApiError e{status, message, "invalid_request_error", std::nullopt, std::nullopt};
  if (status == 413) e.code = "request_too_large";
  if (status == 503) e = ApiError::unavailable(message);
  return error_response(e);
}

// The admin listener serves only probes and scrapes: a handful of connections, short
// deadlines, a couple of threads that nothing else uses.
http::ServerLimits admin_limits() {
  http::ServerLimits l;
  l.max_connections = 64;
  l.idle_timeout = std::chrono::seconds(10);
  l.head_timeout = std::chrono::seconds(5);
  l.body_timeout = std::chrono::seconds(5);
  l.write_timeout = std::chrono::seconds(10);
  l.parser.max_body_bytes = 64 << 10;
  l.workers = 2;
  return l;
}

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  ServerOptions opt;
  ApiRoutes routes;
  http::Router api_router{&ApiRoutes::error_page};
  http::Router admin_router{&ApiRoutes::error_page};
  std::unique_ptr<http::Server> api;
  std::unique_ptr<http::Server> admin;

  std::mutex mu;
  std::condition_variable cv;
  bool stopped = false;

  Impl(Engine& e, const Tokenizer& t, ServerOptions o, EngineMetrics* m,
       const std::atomic<bool>& draining)
      : engine(e), opt(std::move(o)), routes(e, t, opt.api, m, draining) {
    routes.add_probe_routes(api_router, /*api_port=*/true);
    routes.add_api_routes(api_router);
    routes.add_probe_routes(admin_router, /*api_port=*/false);
    http::ServerLimits lim;
    lim.max_connections = static_cast<size_t>(opt.max_connections);
    lim.idle_timeout = opt.keep_alive_timeout;
    lim.parser.max_body_bytes = opt.api.max_body_bytes;
    lim.workers = opt.http_threads;
    api = std::make_unique<http::Server>(
        "api", [this](const http::Request& r) { return api_router.dispatch(r); }, lim,
        transport_error);
    if (opt.admin_port >= 0)
      admin = std::make_unique<http::Server>(
          "admin", [this](const http::Request& r) { return admin_router.dispatch(r); },
          admin_limits(), transport_error);
  }
};

HttpServer::HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerOptions opt,
                       EngineMetrics* metrics)
    : impl_(std::make_unique<Impl>(engine, tokenizer, std::move(opt), metrics, draining_)) {}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::listen() {
  Impl& m = *impl_;
  const ServerOptions& o = m.opt;
  if (Status s = m.api->bind(o.host, o.port); !s) {
    log::error("cannot listen", {{"listener", "api"}, {"error", s.error()}});
    return false;
  }
  if (m.admin) {
    if (Status s = m.admin->bind(o.host, o.admin_port); !s) {
      log::error("cannot listen", {{"listener", "admin"}, {"error", s.error()}});
      return false;
    }
    m.admin->start();
    log::info("listening", {{"listener", "admin"},
                            {"host", o.host},
                            {"port", std::to_string(m.admin->port())},
                            {"routes", "/health /ready /load /metrics"}});
  }
  m.api->start();
  log::info("listening", {{"listener", "api"},
                          {"host", o.host},
                          {"port", std::to_string(m.api->port())},
                          {"model", o.api.model_id}});
  std::unique_lock<std::mutex> l(m.mu);
  m.cv.wait(l, [&] { return m.stopped; });
  return true;
}

int HttpServer::bound_port() const {
  return impl_->api->port();
}

int HttpServer::admin_port() const {
  return impl_->admin ? impl_->admin->port() : -1;
}

void HttpServer::drain_and_stop() {
  draining_ = true;
  log::info("draining", {{"in_flight", std::to_string(impl_->engine.in_flight())}});
  auto deadline = std::chrono::steady_clock::now() + impl_->opt.drain_timeout;
  while (impl_->engine.in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int left = impl_->engine.in_flight();
  if (left > 0) {
    // Out of time: end what is still running so its handlers return (with an error) rather
    // than hold the listener's worker threads until their own deadlines.
    log::warn("drain timeout reached; ending in-flight requests",
              {{"in_flight", std::to_string(left)}});
    impl_->engine.stop();
  }
  stop();  // waits for the handlers to write their last bytes
  log::info("drained", {{"in_flight", std::to_string(impl_->engine.in_flight())}});
}

void HttpServer::stop() {
  if (!impl_) return;
  impl_->api->stop();
  if (impl_->admin) impl_->admin->stop();
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopped = true;
  }
  impl_->cv.notify_all();
}

}  // namespace turbine
