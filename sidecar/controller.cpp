#include "sidecar/controller.h"

#include <cmath>

#include "sidecar/number_format.h"
#include "sidecar/scraper.h"

namespace turbine::autoscaler {

Controller::Controller(const RunConfig& config, ClusterApi& api, SidecarMetrics& metrics,
                       Logger& log, std::function<bool()> is_leader)
    : cfg_(config),
      api_(api),
      m_(metrics),
      log_(log),
      is_leader_(std::move(is_leader)),
      policy_(config.policy) {}

std::string Controller::summary(const Decision& d) {
  return "mean_waiting=" + format_number(d.mean_waiting) + " mean_kv_usage=" + format_number(d.mean_kv_usage) +
         " preemptions_per_second=" + format_number(d.preemptions_per_second) +
         " ready=" + std::to_string(d.ready) + " starting=" + std::to_string(d.starting) +
         " saturated=" + std::to_string(d.saturated_pods) +
         " missing=" + std::to_string(d.missing_pods);
}

void Controller::tick() {
  struct Stamp {
    std::atomic<int64_t>& t;
    ~Stamp() { t = Clock::now().time_since_epoch().count(); }
  } stamp{last_tick_ns_};

  if (!is_leader_()) {
    m_.leader.set(0);
    was_leader_ = false;
    return;
  }
  m_.leader.set(1);

  auto dep = api_.get_deployment();
  if (!dep) return;  // counted and logged by ClusterApi; nothing to act on
  m_.current_replicas.set(dep->spec_replicas);
  if (!was_leader_) {
    // Fresh policy state for a new term, seeded so the first scale-down waits a window.
    policy_ = ScalePolicy(cfg_.policy);
    policy_.remember(Clock::now(), dep->spec_replicas);
    was_leader_ = true;
  }

  // A rollout still gets measured (the inputs stay on the dashboard) but the policy holds.
  std::string rollout = rollout_reason(*dep);
  m_.rollout_in_progress.set(rollout.empty() ? 0 : 1);

  auto eps = api_.ready_endpoints();
  if (!eps) return;
  // Pods on their way: pending ones, unready ones still inside the startup budget, and the
  // replicas the ReplicaSet has not created yet. Without a pod list, every missing ready
  // replica counts (the cautious reading).
  constexpr int64_t kStartupBudgetSeconds = 600;  // the chart's startup-probe budget
  int pending = 0;
  int starting = dep->spec_replicas - static_cast<int>(eps->size());
  if (auto p = api_.pods(*dep, kStartupBudgetSeconds)) {
    pending = p->pending;
    starting = p->starting + std::max(0, dep->spec_replicas - p->total);
  }

  auto scrapes = scrape_all(*eps, cfg_.metrics_port, cfg_.scrape_timeout);
  PolicyInput in;
  in.now = Clock::now();
  in.current_replicas = dep->spec_replicas;
  in.rollout = rollout;
  in.ready_replicas = static_cast<int>(eps->size());
  in.starting_replicas = std::max(0, starting);
  for (const auto& s : scrapes) {
    PodObservation o;
    o.pod = s.endpoint.pod;
    o.scraped = s.ok;
    o.observed_at = s.at;
    if (s.ok) {
      o.waiting = s.load.waiting;
      o.running = s.load.running;
      o.kv_usage = s.load.kv_usage;
      o.free_device_bytes = s.load.free_device_bytes;
      const std::string& pod = s.endpoint.pod;
      o.preemptions_per_second =
          rates_.update(pod, "preemptions", s.at, s.load.preemptions_total).value_or(0.0);
      o.finished_per_second = rates_.update(pod, "finished", s.at, s.load.finished_total);
      o.prompt_tokens_per_second = rates_.update(pod, "prompt", s.at, s.load.prompt_tokens_total);
      o.prefill_tokens_waiting = s.load.prefill_tokens_waiting;
    } else {
      m_.scrape_errors_total.inc();
      log_.warn("scrape_failed",
                {{"pod", s.endpoint.pod}, {"ip", s.endpoint.ip}, {"error", s.error}});
    }
    in.pods.push_back(std::move(o));
  }
  rates_.forget_older_than(in.now - std::chrono::minutes(10));
  m_.set_input("pending_pods", pending);

  Decision d = policy_.decide(in);
  export_decision(d);
  act(*dep, d);
}

void Controller::export_decision(const Decision& d) {
  m_.desired_replicas.set(d.desired);
  m_.ready_replicas.set(d.ready);
  m_.set_input("waiting_mean", d.mean_waiting);
  m_.set_input("kv_usage_mean", d.mean_kv_usage);
  m_.set_input("preemptions_per_second", d.preemptions_per_second);
  m_.set_input("ratio", d.ratio);
  m_.set_input("saturated_pods", d.saturated_pods);
  m_.set_input("missing_pods", d.missing_pods);
  m_.set_input("starting_pods", d.starting);
  // The capacity model's view (0 while the ratio rule decides).
  m_.set_input("need_replicas", d.capacity_model ? d.need.replicas : 0);
  m_.set_input("arrival_rate", d.need.arrival_rate);
  m_.set_input("forecast_rate", d.need.forecast_rate);
  m_.set_input("run_seconds", d.need.run_seconds);
  m_.set_input("slots_per_pod", d.need.slots_per_pod);
  m_.set_input("prefill_replicas", d.need.prefill_replicas);
  m_.decisions_total.with({to_string(d.direction)}).inc();
  log_.info("decision", {{"direction", std::string(to_string(d.direction))},
                         {"current", std::to_string(d.current)},
                         {"desired", std::to_string(d.desired)},
                         {"recommendation", std::to_string(d.recommendation)},
                         {"guard", std::string(to_string(d.guard))},
                         {"reason", d.reason},
                         {"inputs", summary(d)},
                         {"dry_run", cfg_.dry_run ? "true" : "false"}});
}

void Controller::act(const DeploymentInfo& dep, const Decision& d) {
  if (cfg_.dry_run) return;  // logged and exported above; nothing is written
  if (d.direction == Direction::kHold) {
    // Announce holds that a person would want to know about, once per episode.
    const bool notable = d.guard == Guard::kMissingData || d.guard == Guard::kPendingPods ||
                         d.guard == Guard::kNoData || d.guard == Guard::kStarting ||
                         d.guard == Guard::kRollout;
    if (notable && d.guard != last_hold_) {
      api_.record_event(dep, "ScaleHold",
                        "holding at " + std::to_string(d.current) + " replicas: " + d.reason +
                            " (" + summary(d) + ")",
                        cfg_.identity);
    }
    last_hold_ = notable ? d.guard : Guard::kNone;
    return;
  }
  last_hold_ = Guard::kNone;
  auto written = api_.write_scale(d.desired, is_leader_);
  std::string change = std::to_string(d.current) + " -> " + std::to_string(d.desired);
  if (!written) {
    log_.error("scale_failed", {{"change", change}, {"error", written.error()}});
    if (is_leader_()) {
      api_.record_event(dep, "FailedScale", "could not scale " + change + ": " + written.error(),
                        cfg_.identity, /*warning=*/true);
    }
    return;
  }
  m_.current_replicas.set(d.desired);
  log_.info("scaled", {{"change", change}, {"reason", d.reason}});
  api_.record_event(dep, d.direction == Direction::kUp ? "ScaledUp" : "ScaledDown",
                    "replicas " + change + ": " + d.reason + " (" + summary(d) + ")",
                    cfg_.identity);
}

}  // namespace turbine::autoscaler
