#include "sidecar/status_server.h"

#include <httplib.h>

namespace turbine::autoscaler {

StatusServer::StatusServer(metrics::Registry& registry, std::function<bool()> healthy)
    : registry_(registry), healthy_(std::move(healthy)), server_(new httplib::Server) {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry_.expose(), metrics::kContentType);
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = healthy_();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "decision loop stalled\n", "text/plain");
  });
}

StatusServer::~StatusServer() {
  stop();
}

Status StatusServer::start(const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) return Error{"--listen must be HOST:PORT, got " + listen};
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return Error{"--listen: bad port in " + listen};
  }
  if (port == 0) {
    port_ = server_->bind_to_any_port(host.c_str());
    if (port_ < 0) return Error{"cannot listen on " + listen};
  } else {
    if (!server_->bind_to_port(host.c_str(), port)) return Error{"cannot listen on " + listen};
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return Status::Ok();
}

void StatusServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace turbine::autoscaler
