#include "fake_cluster.h"

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "base/log.h"

namespace turbine::autoscaler::testing {

namespace {

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void status_reply(httplib::Response& res, int code, const std::string& reason,
                  const std::string& message) {
  reply(res, code,
        {{"kind", "Status"},
         {"apiVersion", "v1"},
         {"status", "Failure"},
         {"reason", reason},
         {"message", message},
         {"code", code}});
}

// stop() before the accept loop runs would be lost (and join() would hang): wait for it.
void wait_running(const httplib::Server& s) {
  while (!s.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

std::unique_ptr<httplib::Server> make_server(const std::optional<ServerTls>& tls) {
  if (!tls) return std::make_unique<httplib::Server>();
  auto s = std::make_unique<httplib::SSLServer>(tls->cert_file.c_str(), tls->key_file.c_str());
  if (!s->is_valid()) throw std::runtime_error("fake API server: cannot load TLS cert/key");
  return s;
}

}  // namespace

FakeKube::FakeKube(const std::optional<ServerTls>& tls)
    : tls_(tls.has_value()), owned_server_(make_server(tls)), server_(*owned_server_) {
  // Authentication first, as a real API server: a wrong or missing token never reaches a
  // handler (and its 401 counts nothing else).
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    std::string auth = req.get_header_value("Authorization");
    std::string token = auth.rfind("Bearer ", 0) == 0 ? auth.substr(7) : "";
    last_token = token;
    if (!required_token.empty() && token != required_token) {
      ++unauthorized;
      status_reply(res, 401, "Unauthorized", "Unauthorized");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (accepted_tokens.empty() || accepted_tokens.back() != token) {
      accepted_tokens.push_back(token);
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  const std::string ns = R"(/namespaces/([a-z0-9-]+))";
  const std::string lease_path = "/apis/coordination\\.k8s\\.io/v1" + ns + "/leases";
  server_.Get(lease_path + "/([a-z0-9-]+)",
              [this](const httplib::Request&, httplib::Response& res) {
                std::lock_guard<std::mutex> l(mu);
                ++lease_calls;
                if (lease_down) return status_reply(res, 500, "InternalError", "etcd is on fire");
                if (!lease) return status_reply(res, 404, "NotFound", "leases not found");
                if (intruder) {
                  // The other holder renews all the time: never expired, always a new version.
                  (*lease)["spec"]["holderIdentity"] = "intruder";
                  (*lease)["spec"]["renewTime"] = rfc3339_now(/*micros=*/true);
                  (*lease)["metadata"]["resourceVersion"] = bump();
                }
                reply(res, 200, *lease);
              });
  server_.Post(lease_path, [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    ++lease_calls;
    if (lease_down) return status_reply(res, 500, "InternalError", "etcd is on fire");
    if (lease) return status_reply(res, 409, "AlreadyExists", "lease already exists");
    json body = json::parse(req.body);
    body["metadata"]["resourceVersion"] = bump();
    lease = body;
    reply(res, 201, *lease);
  });
  server_.Put(lease_path + "/([a-z0-9-]+)",
              [this](const httplib::Request& req, httplib::Response& res) {
                std::lock_guard<std::mutex> l(mu);
                ++lease_calls;
                if (lease_down) return status_reply(res, 500, "InternalError", "etcd is on fire");
                if (!lease) return status_reply(res, 404, "NotFound", "leases not found");
                json body = json::parse(req.body);
                if (body["metadata"].value("resourceVersion", "") !=
                    (*lease)["metadata"].value("resourceVersion", "")) {
                  return status_reply(res, 409, "Conflict", "the object has been modified");
                }
                body["metadata"]["resourceVersion"] = bump();
                lease = body;
                reply(res, 200, *lease);
              });

  const std::string deploy = "/apis/apps/v1" + ns + "/deployments/" + std::string(kDeployment);
  server_.Get(deploy, [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    reply(res, 200, deployment_json());
  });
  server_.Get(deploy + "/scale", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    ++scale_gets;
    if (!scale_get_faults.empty()) {
      int code = scale_get_faults.front();
      scale_get_faults.pop_front();
      return status_reply(res, code, "InternalError", "injected fault");
    }
    reply(
        res, 200,
        {{"apiVersion", "autoscaling/v1"},
         {"kind", "Scale"},
         {"metadata",
          {{"name", kDeployment}, {"namespace", kNamespace}, {"resourceVersion", deployment_rv_}}},
         {"spec", {{"replicas", replicas}}},
         {"status", {{"replicas", replicas}, {"selector", "app=turbine"}}}});
  });
  server_.Put(deploy + "/scale", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    ++scale_puts;
    if (!scale_put_faults.empty()) {
      int code = scale_put_faults.front();
      scale_put_faults.pop_front();
      if (code == 409) {
        deployment_rv_ = bump();  // as if someone else wrote in between
        return status_reply(res, 409, "Conflict", "the object has been modified");
      }
      return status_reply(res, code, "InternalError", "injected fault");
    }
    json body = json::parse(req.body);
    if (body["metadata"].value("resourceVersion", "") != deployment_rv_) {
      return status_reply(res, 409, "Conflict", "the object has been modified");
    }
    int want = body["spec"]["replicas"].get<int>();
    if (want != replicas) ++generation;
    replicas = want;
    deployment_rv_ = bump();
    writes.push_back({want, req.get_header_value("User-Agent")});
    reply(res, 200, body);
  });
  server_.Get("/apis/discovery\\.k8s\\.io/v1" + ns + "/endpointslices",
              [this](const httplib::Request& req, httplib::Response& res) {
                std::lock_guard<std::mutex> l(mu);
                if (req.get_param_value("labelSelector") !=
                    std::string("kubernetes.io/service-name=") + kService) {
                  return reply(res, 200, {{"kind", "EndpointSliceList"}, {"items", json::array()}});
                }
                json eps = json::array();
                for (const auto& [ip, pod] : endpoints) {
                  eps.push_back({{"addresses", {ip}},
                                 {"conditions", {{"ready", true}}},
                                 {"targetRef", {{"kind", "Pod"}, {"name", pod}}}});
                }
                reply(res, 200,
                      {{"kind", "EndpointSliceList"},
                       {"items", {{{"addressType", "IPv4"}, {"endpoints", eps}}}}});
              });
  server_.Get("/api/v1" + ns + "/pods", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> l(mu);
    json items = json::array();
    for (int i = 0; i < pending_pods; ++i) items.push_back({{"status", {{"phase", "Pending"}}}});
    for (size_t i = 0; i < endpoints.size(); ++i) {
      items.push_back({{"metadata", {{"creationTimestamp", "2026-01-01T00:00:00Z"}}},
                       {"status",
                        {{"phase", "Running"},
                         {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}});
    }
    reply(res, 200, {{"kind", "PodList"}, {"items", items}});
  });
  server_.Post("/api/v1" + ns + "/events",
               [this](const httplib::Request& req, httplib::Response& res) {
                 std::lock_guard<std::mutex> l(mu);
                 json ev = json::parse(req.body);
                 events.push_back(ev);
                 reply(res, 201, ev);
               });

  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("fake API server cannot bind");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  wait_running(server_);
}

FakeKube::~FakeKube() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

json FakeKube::deployment_json() {
  int updated = std::max(0, replicas - updated_replicas_lag);
  int total = replicas + (updated_replicas_lag > 0 ? 1 : 0);  // a surge pod while rolling
  int ready = static_cast<int>(endpoints.size());
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata",
           {{"name", kDeployment},
            {"namespace", kNamespace},
            {"uid", "uid-turbine"},
            {"generation", generation},
            {"resourceVersion", deployment_rv_}}},
          {"spec",
           {{"replicas", replicas},
            {"selector", {{"matchLabels", {{"app.kubernetes.io/name", "turbine"}}}}}}},
          {"status",
           {{"observedGeneration", generation},
            {"replicas", total},
            {"updatedReplicas", updated},
            {"readyReplicas", ready},
            {"availableReplicas", ready},
            {"unavailableReplicas", std::max(0, total - ready)}}}};
}

std::vector<ScaleWrite> FakeKube::scale_writes() {
  std::lock_guard<std::mutex> l(mu);
  return writes;
}

std::vector<json> FakeKube::events_with_reason(const std::string& reason) {
  std::lock_guard<std::mutex> l(mu);
  std::vector<json> out;
  for (const auto& e : events) {
    if (e.value("reason", "") == reason) out.push_back(e);
  }
  return out;
}

int FakeKube::lease_call_count() {
  std::lock_guard<std::mutex> l(mu);
  return lease_calls;
}

std::string FakeKube::lease_holder() {
  std::lock_guard<std::mutex> l(mu);
  return lease ? (*lease)["spec"].value("holderIdentity", "") : "";
}

int FakeKube::current_replicas() {
  std::lock_guard<std::mutex> l(mu);
  return replicas;
}

int FakeKube::unauthorized_count() {
  std::lock_guard<std::mutex> l(mu);
  return unauthorized;
}

std::string FakeKube::last_bearer_token() {
  std::lock_guard<std::mutex> l(mu);
  return last_token;
}

// ---- engine pods --------------------------------------------------------------------------

FakePods::FakePods(int count) {
  for (int attempt = 0; attempt < 5 && pods_.empty(); ++attempt) {
    std::vector<std::unique_ptr<Pod>> pods;
    int port = 0;
    bool ok = true;
    for (int i = 0; i < count && ok; ++i) {
      auto pod = std::make_unique<Pod>();
      pod->server = std::make_unique<httplib::Server>();
      Pod* p = pod.get();
      pod->server->Get("/metrics", [p](const httplib::Request&, httplib::Response& res) {
        switch (p->mode.load()) {
          case PodMode::kError500:
            res.status = 500;
            res.set_content("boom\n", "text/plain");
            return;
          case PodMode::kGarbage:
            res.set_content("turbine_requests_waiting {{{ not prometheus\n", "text/plain");
            return;
          case PodMode::kNoMetrics:
            res.set_content("# TYPE up gauge\nup 1\n", "text/plain");
            return;
          case PodMode::kSlow:
            std::this_thread::sleep_for(std::chrono::milliseconds(1200));
            break;
          case PodMode::kOk:
            break;
        }
        char page[2048];
        int len = std::snprintf(page, sizeof page,
                      "# HELP turbine_requests_waiting Requests waiting.\n"
                      "# TYPE turbine_requests_waiting gauge\n"
                      "turbine_requests_waiting %g\n"
                      "# TYPE turbine_requests_running gauge\n"
                      "turbine_requests_running %g\n"
                      "# TYPE turbine_kv_cache_usage_ratio gauge\n"
                      "turbine_kv_cache_usage_ratio %g\n"
                      "# TYPE turbine_preemptions_total counter\n"
                      "turbine_preemptions_total 0\n",
                      p->waiting.load(), p->running.load(), p->kv.load());
        if (const double rate = p->finished_per_second.load(); rate >= 0) {
          const double age =
              std::chrono::duration<double>(std::chrono::steady_clock::now() - p->born).count();
          std::snprintf(page + len, sizeof page - len,
                        "# TYPE turbine_requests_total counter\n"
                        "turbine_requests_total{finish_reason=\"stop\"} %.6f\n",
                        rate * age);
        }
        res.set_content(page, "text/plain; version=0.0.4");
      });
      std::string ip = "127.0.0." + std::to_string(i + 2);
      if (i == 0) {
        port = pod->server->bind_to_any_port(ip.c_str());
        ok = port > 0;
      } else {
        ok = pod->server->bind_to_port(ip.c_str(), port);
      }
      if (ok) {
        httplib::Server* s = pod->server.get();
        pod->thread = std::thread([s] { s->listen_after_bind(); });
        pods.push_back(std::move(pod));
      }
    }
    if (ok) {
      pods_ = std::move(pods);
      port_ = port;
    } else {
      for (auto& p : pods) {
        wait_running(*p->server);
        p->server->stop();
        p->thread.join();
      }
    }
  }
  if (pods_.empty()) throw std::runtime_error("cannot bind fake engine pods on 127.0.0.x");
  for (auto& p : pods_) wait_running(*p->server);
}

FakePods::~FakePods() {
  for (auto& p : pods_) p->server->stop();
  for (auto& p : pods_) {
    if (p->thread.joinable()) p->thread.join();
  }
}

void FakePods::set_load(int i, double waiting, double kv) {
  pods_[i]->waiting = waiting;
  pods_[i]->kv = kv;
}

void FakePods::set_all(double waiting, double kv) {
  for (int i = 0; i < size(); ++i) set_load(i, waiting, kv);
}

void FakePods::set_throughput(int i, double running, double finished_per_second) {
  pods_[i]->running = running;
  pods_[i]->finished_per_second = finished_per_second;
}

void FakePods::set_mode(int i, PodMode mode) {
  pods_[i]->mode = mode;
}

void FakePods::set_all_modes(PodMode mode) {
  for (int i = 0; i < size(); ++i) set_mode(i, mode);
}

}  // namespace turbine::autoscaler::testing
