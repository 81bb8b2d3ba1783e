#include "sidecar/status_server.h"

namespace turbine::autoscaler {

StatusServer::StatusServer(metrics::Registry& registry, std::function<bool()> healthy)
    : registry_(registry), healthy_(std::move(healthy)) {
  router_.get("/metrics", [this](const http::Request&) {
    return http::Response::text(200, registry_.expose(), metrics::kContentType);
  });
  router_.get("/healthz", [this](const http::Request&) {
    const bool ok = healthy_();
    return http::Response::text(ok ? 200 : 503, ok ? "ok\n" : "decision loop stalled\n");
  });
}

StatusServer::~StatusServer() {
  stop();
}

Status StatusServer::start(const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Error{"--listen must be HOST:PORT, got " + listen};
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return Error{"--listen: bad port in " + listen};
  }
  // A scrape and a probe now and then: few connections, short deadlines, two threads.
  http::ServerLimits lim;
  lim.max_connections = 64;
  lim.idle_timeout = std::chrono::seconds(10);
  lim.head_timeout = std::chrono::seconds(5);
  lim.body_timeout = std::chrono::seconds(5);
  lim.parser.max_body_bytes = 4096;
  lim.workers = 2;
  server_ = std::make_unique<http::Server>(
      "autoscaler", [this](const http::Request& r) { return router_.dispatch(r); }, lim);
  if (Status s = server_->bind(host, port); !s) {
    server_.reset();
    return Error{s.error()};
  }
  server_->start();
  return Status::Ok();
}

void StatusServer::stop() {
  if (server_) server_->stop();
}

}  // namespace turbine::autoscaler
