// The sidecar's own HTTP endpoint on --listen: /metrics (Prometheus text) and /healthz
// (200 while the decision loop keeps turning, 503 once it has been stuck for a while, so
// the liveness probe restarts a wedged sidecar). base/http's server: a slow client holds
// no thread, so it cannot fail that probe.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "base/http/router.h"
#include "base/http/server.h"
#include "base/metrics/registry.h"
#include "base/result.h"

namespace turbine::autoscaler {

class StatusServer {
 public:
  // `healthy` is asked on every /healthz.
  StatusServer(metrics::Registry& registry, std::function<bool()> healthy);
  ~StatusServer();

  // Binds HOST:PORT (port 0 picks one) and serves on its own threads.
  Status start(const std::string& listen);
  void stop();
  int port() const { return server_ ? server_->port() : 0; }

 private:
  metrics::Registry& registry_;
  std::function<bool()> healthy_;
  http::Router router_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace turbine::autoscaler
