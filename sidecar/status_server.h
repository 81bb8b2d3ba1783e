// The sidecar's own HTTP endpoint on --listen: /metrics (Prometheus text) and /healthz
// (200 while the decision loop keeps turning, 503 once it has been stuck for a while, so
// the liveness probe restarts a wedged sidecar).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/metrics/registry.h"
#include "base/result.h"

namespace httplib {
class Server;
}

namespace turbine::autoscaler {

class StatusServer {
 public:
  // `healthy` is asked on every /healthz.
  StatusServer(metrics::Registry& registry, std::function<bool()> healthy);
  ~StatusServer();

  // Binds HOST:PORT (port 0 picks one) and serves on a thread.
  Status start(const std::string& listen);
  void stop();
  int port() const { return port_; }

 private:
  metrics::Registry& registry_;
  std::function<bool()> healthy_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace turbine::autoscaler
