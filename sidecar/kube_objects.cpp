#include "sidecar/kube_objects.h"

#include <nlohmann/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <set>
#include <thread>

namespace turbine::autoscaler {

using nlohmann::json;

static int64_t int_at(const json& j, const char* a, const char* b, int64_t def = 0) {
  if (!j.contains(a) || !j[a].is_object() || !j[a].contains(b)) return def;
  const json& v = j[a][b];
  return v.is_number_integer() ? v.get<int64_t>() : def;
}

Result<DeploymentInfo> parse_deployment(const std::string& body) {
  try {
    json j = json::parse(body);
    DeploymentInfo d;
    d.uid = j["metadata"].value("uid", "");
    d.generation = int_at(j, "metadata", "generation");
    // spec.replicas defaults to 1 when omitted (the API server fills it in, but be safe).
    d.spec_replicas = static_cast<int>(int_at(j, "spec", "replicas", 1));
    d.observed_generation = int_at(j, "status", "observedGeneration");
    d.status_replicas = static_cast<int>(int_at(j, "status", "replicas"));
    d.updated_replicas = static_cast<int>(int_at(j, "status", "updatedReplicas"));
    d.ready_replicas = static_cast<int>(int_at(j, "status", "readyReplicas"));
    d.available_replicas = static_cast<int>(int_at(j, "status", "availableReplicas"));
    d.unavailable_replicas = static_cast<int>(int_at(j, "status", "unavailableReplicas"));
    const json& sel = j["spec"]["selector"]["matchLabels"];
    if (sel.is_object()) {
      for (auto it = sel.begin(); it != sel.end(); ++it) {
        if (it.value().is_string()) d.match_labels[it.key()] = it.value().get<std::string>();
      }
    }
    return d;
  } catch (const json::exception& e) {
    return Error{std::string("bad Deployment JSON: ") + e.what()};
  }
}

std::string rollout_reason(const DeploymentInfo& d) {
  if (d.observed_generation < d.generation) {
    return "deployment controller has not yet observed generation " + std::to_string(d.generation);
  }
  if (d.updated_replicas < d.spec_replicas) {
    return "rollout in progress: " + std::to_string(d.updated_replicas) + " of " +
           std::to_string(d.spec_replicas) + " pods updated";
  }
  if (d.status_replicas > d.updated_replicas) {
    return "rollout in progress: " + std::to_string(d.status_replicas - d.updated_replicas) +
           " old pods still running" +
           (d.unavailable_replicas > 0
                ? " (" + std::to_string(d.unavailable_replicas) + " unavailable)"
                : std::string());
  }
  return {};
}

Result<std::vector<ReadyEndpoint>> parse_endpoint_slices(const std::string& body) {
  try {
    json j = json::parse(body);
    std::vector<ReadyEndpoint> out;
    std::set<std::string> seen;
    if (!j.contains("items") || !j["items"].is_array()) return out;
    for (const json& slice : j["items"]) {
      if (!slice.contains("endpoints") || !slice["endpoints"].is_array()) continue;
      for (const json& ep : slice["endpoints"]) {
        bool ready = true;
        if (ep.contains("conditions") && ep["conditions"].contains("ready") &&
            ep["conditions"]["ready"].is_boolean()) {
          ready = ep["conditions"]["ready"].get<bool>();
        }
        // Terminating endpoints report ready=false; serving-but-terminating pods drain.
        if (!ready || !ep.contains("addresses") || ep["addresses"].empty()) continue;
        std::string ip = ep["addresses"][0].get<std::string>();
        if (!seen.insert(ip).second) continue;
        std::string pod = ip;
        if (ep.contains("targetRef") && ep["targetRef"].contains("name")) {
          pod = ep["targetRef"]["name"].get<std::string>();
        }
        out.push_back({ip, pod});
      }
    }
    return out;
  } catch (const json::exception& e) {
    return Error{std::string("bad EndpointSliceList JSON: ") + e.what()};
  }
}

// "2026-11-30T05:00:00Z" (RFC 3339 as the API writes metadata timestamps) -> Unix seconds.
static bool parse_k8s_time(const std::string& s, int64_t* out) {
  std::tm tm{};
  int y, mo, d, h, mi, sec;
  if (std::sscanf(s.c_str(), "%d-%d-%dT%d:%d:%d", &y, &mo, &d, &h, &mi, &sec) != 6) return false;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  *out = static_cast<int64_t>(timegm(&tm));
  return true;
}

Result<PodCounts> count_pods(const std::string& body, int64_t now, int64_t startup_budget_s) {
  try {
    json j = json::parse(body);
    PodCounts c;
    if (!j.contains("items") || !j["items"].is_array()) return c;
    for (const json& pod : j["items"]) {
      const json meta = pod.value("metadata", json::object());
      if (meta.contains("deletionTimestamp")) continue;
      ++c.total;
      const json status = pod.value("status", json::object());
      const std::string phase = status.value("phase", "");
      if (phase == "Pending") {
        ++c.pending;
        ++c.starting;
        continue;
      }
      if (phase != "Running") continue;  // Succeeded/Failed/Unknown: not on its way
      bool ready = false;
      for (const json& cond : status.value("conditions", json::array()))
        if (cond.value("type", "") == "Ready") ready = cond.value("status", "") == "True";
      if (ready) continue;
      int64_t created = 0;
      // No timestamp: count it as starting (the conservative side for scale-down).
      if (!parse_k8s_time(meta.value("creationTimestamp", ""), &created) ||
          now - created < startup_budget_s)
        ++c.starting;
    }
    return c;
  } catch (const json::exception& e) {
    return Error{std::string("bad PodList JSON: ") + e.what()};
  }
}

std::string label_selector(const std::map<std::string, std::string>& labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out += ',';
    out += k + "=" + v;
  }
  return out;
}

ClusterApi::ClusterApi(K8sClient& client, std::string namespace_name, std::string deployment,
                       std::string service, SidecarMetrics* metrics, Logger& log)
    : client_(client),
      ns_(std::move(namespace_name)),
      deployment_(std::move(deployment)),
      service_(std::move(service)),
      metrics_(metrics),
      log_(log) {}

std::string ClusterApi::fail(const std::string& op, const std::string& what) {
  if (metrics_) metrics_->api_error(op);
  log_.warn("api_error", {{"op", op}, {"error", what}});
  return op + ": " + what;
}

static std::string http_error(const ApiResponse& r) {
  std::string msg = "HTTP " + std::to_string(r.status);
  try {
    json j = json::parse(r.body);
    if (j.contains("message") && j["message"].is_string())
      msg += ": " + j["message"].get<std::string>();
  } catch (const json::exception&) {
  }
  return msg;
}

Result<DeploymentInfo> ClusterApi::get_deployment() {
  auto r = client_.get("/apis/apps/v1/namespaces/" + ns_ + "/deployments/" + deployment_);
  if (!r) return Error{fail("get_deployment", r.error())};
  if (!r->ok()) return Error{fail("get_deployment", http_error(*r))};
  auto d = parse_deployment(r->body);
  if (!d) return Error{fail("get_deployment", d.error())};
  return d;
}

Result<std::vector<ReadyEndpoint>> ClusterApi::ready_endpoints() {
  auto r =
      client_.get("/apis/discovery.k8s.io/v1/namespaces/" + ns_ + "/endpointslices?labelSelector=" +
                  url_encode("kubernetes.io/service-name=" + service_));
  if (!r) return Error{fail("list_endpointslices", r.error())};
  if (!r->ok()) return Error{fail("list_endpointslices", http_error(*r))};
  auto eps = parse_endpoint_slices(r->body);
  if (!eps) return Error{fail("list_endpointslices", eps.error())};
  return eps;
}

Result<PodCounts> ClusterApi::pods(const DeploymentInfo& d, int64_t startup_budget_s) {
  if (d.match_labels.empty()) return PodCounts{};
  auto r = client_.get("/api/v1/namespaces/" + ns_ +
                       "/pods?labelSelector=" + url_encode(label_selector(d.match_labels)));
  if (!r) return Error{fail("list_pods", r.error())};
  if (!r->ok()) return Error{fail("list_pods", http_error(*r))};
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto c = count_pods(r->body, now, startup_budget_s);
  if (!c) return Error{fail("list_pods", c.error())};
  return c;
}

Result<int> ClusterApi::write_scale(int replicas, const std::function<bool()>& may_write,
                                    WritePolicy policy) {
  const std::string path =
      "/apis/apps/v1/namespaces/" + ns_ + "/deployments/" + deployment_ + "/scale";
  auto backoff = policy.backoff;
  std::string last_error = "no attempt made";
  for (int attempt = 1; attempt <= policy.attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(backoff);
      backoff *= 2;
    }
    auto got = client_.get(path);
    if (!got) {
      last_error = fail("get_scale", got.error());
      continue;
    }
    if (!got->ok()) {
      last_error = fail("get_scale", http_error(*got));
      if (got->status >= 500 || got->status == 429) continue;
      return Error{last_error};
    }
    json scale;
    try {
      scale = json::parse(got->body);
    } catch (const json::exception& e) {
      return Error{fail("get_scale", std::string("bad Scale JSON: ") + e.what())};
    }
    if (!may_write()) return Error{"not writing scale: no longer leader"};
    // Keep metadata (resourceVersion included) exactly as read: optimistic concurrency.
    json body = {{"apiVersion", "autoscaling/v1"},
                 {"kind", "Scale"},
                 {"metadata", scale.value("metadata", json::object())},
                 {"spec", {{"replicas", replicas}}}};
    auto put = client_.put(path, body.dump());
    if (!put) {
      last_error = fail("update_scale", put.error());
      continue;
    }
    if (put->ok()) return replicas;
    last_error = fail("update_scale", http_error(*put));
    if (put->status == 409) {
      backoff = policy.backoff;  // a conflict needs a fresh read, not a long wait
      continue;
    }
    if (put->status >= 500 || put->status == 429) continue;
    return Error{last_error};
  }
  return Error{"giving up after " + std::to_string(policy.attempts) + " attempts: " + last_error};
}

void ClusterApi::record_event(const DeploymentInfo& d, const std::string& reason,
                              const std::string& message, const std::string& reporting_instance,
                              bool warning) {
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, ".%llx", static_cast<unsigned long long>(nanos));
  std::string now = rfc3339_now(false);
  json involved = {
      {"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", deployment_}, {"namespace", ns_}};
  if (!d.uid.empty()) involved["uid"] = d.uid;
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", deployment_ + suffix}, {"namespace", ns_}}},
             {"involvedObject", involved},
             {"reason", reason},
             {"message", message},
             {"type", warning ? "Warning" : "Normal"},
             {"source", {{"component", "turbine-autoscaler"}, {"host", reporting_instance}}},
             {"reportingComponent", "turbine-autoscaler"},
             {"reportingInstance", reporting_instance},
             {"firstTimestamp", now},
             {"lastTimestamp", now},
             {"count", 1}};
  auto r = client_.post("/api/v1/namespaces/" + ns_ + "/events", ev.dump());
  if (!r) {
    fail("create_event", r.error());
  } else if (!r->ok()) {
    fail("create_event", http_error(*r));
  }
}

}  // namespace turbine::autoscaler
