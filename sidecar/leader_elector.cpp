#include "sidecar/leader_elector.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace turbine::autoscaler {

using nlohmann::json;

LeaderElector::LeaderElector(K8sClient& client, std::string namespace_name, std::string lease_name,
                             std::string identity, LeaseTimings timings, Logger& log,
                             ErrorFn on_api_error, ChangeFn on_change)
    : client_(client),
      ns_(std::move(namespace_name)),
      name_(std::move(lease_name)),
      identity_(std::move(identity)),
      t_(timings),
      log_(log),
      on_api_error_(std::move(on_api_error)),
      on_change_(std::move(on_change)) {}

LeaderElector::~LeaderElector() {
  stop(false);
}

std::string LeaderElector::lease_path() const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + ns_ + "/leases/" + name_;
}

bool LeaderElector::is_leader() const {
  if (!leader_.load()) return false;
  auto since = Clock::now() - Clock::time_point(Clock::duration(last_renew_.load()));
  return Seconds(since) < t_.renew_deadline;
}

void LeaderElector::start() {
  stop_ = false;
  thread_ = std::thread([this] { loop(); });
}

void LeaderElector::set_leader(bool leader, const std::string& why) {
  if (leader_.exchange(leader) == leader) return;
  if (leader) {
    log_.info("leader_acquired", {{"lease", name_}, {"identity", identity_}});
  } else {
    log_.warn("leader_lost", {{"lease", name_}, {"identity", identity_}, {"reason", why}});
  }
  if (on_change_) on_change_(leader);
}

void LeaderElector::loop() {
  auto last_renew = Clock::now();
  while (!stop_) {
    // The renew counts from before the request: the server may have stamped it any time
    // after we sent it, so this is the conservative end.
    auto began = Clock::now();
    bool held = try_acquire_or_renew();
    auto now = Clock::now();
    if (held) {
      last_renew = began;
      last_renew_ = began.time_since_epoch().count();
      set_leader(true, "");
    } else if (leader_) {
      if (held_by_other_) {
        set_leader(false, "lease taken by another holder");
      } else if (Seconds(now - last_renew) > t_.renew_deadline) {
        set_leader(false, "could not renew within the renew deadline");
      }
    }
    // Sleep in slices so stop() is prompt.
    auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(t_.retry_period);
    while (!stop_ && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

void LeaderElector::stop(bool release) {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (!release || !leader_) return;
  // Hand the lease back: empty holder, 1 s duration (as client-go's ReleaseOnCancel).
  auto got = client_.get(lease_path());
  if (got && got->status == 200) {
    try {
      json lease = json::parse(got->body);
      if (lease["spec"].value("holderIdentity", "") == identity_) {
        lease["spec"]["holderIdentity"] = "";
        lease["spec"]["leaseDurationSeconds"] = 1;
        lease["spec"]["renewTime"] = rfc3339_now(true);
        auto put = client_.put(lease_path(), lease.dump());
        if (put && put->ok()) log_.info("leader_released", {{"lease", name_}});
      }
    } catch (const json::exception&) {
    }
  }
  set_leader(false, "shutting down");
}

bool LeaderElector::try_acquire_or_renew() {
  held_by_other_ = false;
  auto error = [&](const std::string& op, const std::string& what) {
    if (on_api_error_) on_api_error_(op);
    log_.warn("lease_error", {{"op", op}, {"lease", name_}, {"error", what}});
    return false;
  };
  std::string now = rfc3339_now(true);
  auto got = client_.get(lease_path());
  if (!got) return error("get_lease", got.error());
  int secs = std::max(1, static_cast<int>(std::lround(t_.duration.count())));

  if (got->status == 404) {
    json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", name_}, {"namespace", ns_}}},
                  {"spec",
                   {{"holderIdentity", identity_},
                    {"leaseDurationSeconds", secs},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    auto created =
        client_.post("/apis/coordination.k8s.io/v1/namespaces/" + ns_ + "/leases", lease.dump());
    if (!created) return error("create_lease", created.error());
    if (created->status == 409) return false;  // another candidate created it first
    if (!created->ok()) {
      return error("create_lease", "HTTP " + std::to_string(created->status));
    }
    observed_record_.clear();
    return true;
  }
  if (got->status != 200) return error("get_lease", "HTTP " + std::to_string(got->status));

  json lease;
  try {
    lease = json::parse(got->body);
  } catch (const json::exception& e) {
    return error("get_lease", std::string("bad JSON: ") + e.what());
  }
  json& spec = lease["spec"];
  if (!spec.is_object()) spec = json::object();
  std::string holder = spec.value("holderIdentity", "");
  std::string record = holder + "|" + spec.value("renewTime", "") + "|" +
                       lease["metadata"].value("resourceVersion", "");
  auto mono = Clock::now();
  if (record != observed_record_) {
    observed_record_ = record;
    observed_at_ = mono;
  }
  int their_secs = spec.value("leaseDurationSeconds", secs);
  bool expired = Seconds(mono - observed_at_) > Seconds(their_secs);
  if (!holder.empty() && holder != identity_ && !expired) {
    held_by_other_ = true;
    return false;
  }
  if (holder != identity_) {
    spec["acquireTime"] = now;
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
  }
  spec["holderIdentity"] = identity_;
  spec["leaseDurationSeconds"] = secs;
  spec["renewTime"] = now;
  // metadata.resourceVersion stays as read: a concurrent writer makes this a 409.
  auto put = client_.put(lease_path(), lease.dump());
  if (!put) return error("update_lease", put.error());
  if (put->status == 409) return false;  // someone wrote in between; the next round sees who
  if (!put->ok()) return error("update_lease", "HTTP " + std::to_string(put->status));
  return true;
}

}  // namespace turbine::autoscaler
