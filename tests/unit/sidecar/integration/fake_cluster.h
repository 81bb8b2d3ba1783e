// In-process fakes for the integration tests: a Kubernetes API server (plain HTTP, or HTTPS
// with a certificate the test made) that implements just what turbine-autoscaler calls —
// Lease get/create/update with resourceVersion checks, Deployment get, deployments/scale
// get/update (409 on a stale resourceVersion), EndpointSlice and Pod lists, Event create —
// with injectable faults and an optional bearer-token check (401 for any other token, as a
// real API server); and engine pods serving /metrics on 127.0.0.N (one port for all, as
// --metrics-port expects).
#pragma once
#include <httplib.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace turbine::autoscaler::testing {

using nlohmann::json;

// HTTPS for the fake API server: PEM files of the server's certificate and key.
struct ServerTls {
  std::string cert_file;
  std::string key_file;
};

struct ScaleWrite {
  int replicas = 0;
  std::string user_agent;
};

class FakeKube {
 public:
  static constexpr const char* kNamespace = "llm";
  static constexpr const char* kDeployment = "turbine";
  static constexpr const char* kService = "turbine";

  explicit FakeKube(const std::optional<ServerTls>& tls = std::nullopt);
  ~FakeKube();
  int port() const { return port_; }
  std::string url() const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
  }

  // ---- state (all under mu) ----
  std::mutex mu;
  int replicas = 2;
  int64_t generation = 1;
  int updated_replicas_lag = 0;  // > 0: a rollout in progress (updatedReplicas = spec - lag)
  std::vector<std::pair<std::string, std::string>> endpoints;  // (ip, pod name), all ready
  int pending_pods = 0;
  std::optional<json> lease;
  bool intruder = false;    // someone else holds the lease and renews it on every read
  bool lease_down = false;  // every Lease call answers 500
  std::deque<int> scale_get_faults, scale_put_faults;  // statuses to answer before obeying
  std::string required_token;  // non-empty: any other bearer token gets 401 Unauthorized

  // ---- what happened (all under mu) ----
  std::vector<ScaleWrite> writes;  // successful scale updates
  int scale_gets = 0, scale_puts = 0, lease_calls = 0;
  std::vector<json> events;
  std::string last_token;                    // the bearer token of the latest request ("" if none)
  std::vector<std::string> accepted_tokens;  // in order, one entry per change of token
  int unauthorized = 0;                      // requests answered 401

  // Convenience accessors that take the lock.
  std::vector<ScaleWrite> scale_writes();
  std::vector<json> events_with_reason(const std::string& reason);
  int lease_call_count();
  std::string lease_holder();
  int current_replicas();
  int unauthorized_count();
  std::string last_bearer_token();

 private:
  std::string bump() { return std::to_string(++rv_); }
  json deployment_json();  // requires mu

  bool tls_ = false;
  std::unique_ptr<httplib::Server> owned_server_;  // a Server or an SSLServer
  httplib::Server& server_;
  std::thread thread_;
  int port_ = 0;
  int64_t rv_ = 1000;
  std::string deployment_rv_ = "1";
};

enum class PodMode { kOk, kError500, kGarbage, kNoMetrics, kSlow };

class FakePods {
 public:
  explicit FakePods(int count);  // 127.0.0.2 .. 127.0.0.(count+1), one shared port
  ~FakePods();
  int port() const { return port_; }
  int size() const { return static_cast<int>(pods_.size()); }
  std::string ip(int i) const { return "127.0.0." + std::to_string(i + 2); }
  std::string name(int i) const { return "turbine-pod-" + std::to_string(i); }

  void set_load(int i, double waiting, double kv);
  void set_all(double waiting, double kv);
  void set_mode(int i, PodMode mode);
  void set_all_modes(PodMode mode);
  // An engine that also exports turbine_requests_total, growing at `finished_per_second`
  // on the wall clock, with `running` requests running (the capacity model's inputs).
  void set_throughput(int i, double running, double finished_per_second);

 private:
  struct Pod {
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
    std::atomic<double> waiting{0}, kv{0};
    std::atomic<double> running{2}, finished_per_second{-1};  // < 0: no counter exported
    std::chrono::steady_clock::time_point born = std::chrono::steady_clock::now();
    std::atomic<PodMode> mode{PodMode::kOk};
  };
  std::vector<std::unique_ptr<Pod>> pods_;
  int port_ = 0;
};

}  // namespace turbine::autoscaler::testing
