#include "sidecar/simulate_command.h"

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "sidecar/number_format.h"
#include "sidecar/replica_model_file.h"
#include "sidecar/trace.h"

namespace turbine::autoscaler {

std::string format_simulation(const std::string& trace_name, const std::string& model_name,
                              const SimConfig& cfg, const std::vector<SimResult>& results,
                              bool json, bool show_events) {
  if (json) {
    nlohmann::ordered_json j;
    j["trace"] = trace_name;
    j["replica_model"] = model_name;
    j["duration_s"] = std::stod(format_fixed(results.empty() ? 0.0 : results[0].duration_s, 1));
    j["slo_ttft_s"] = cfg.slo_ttft_s;
    j["interval_s"] = cfg.interval_s;
    j["startup_s"] = cfg.replica.startup_s;
    j["min_replicas"] = cfg.turbine.min_replicas;
    j["max_replicas"] = cfg.turbine.max_replicas;
    j["policies"] = nlohmann::ordered_json::array();
    for (const auto& r : results) {
      nlohmann::ordered_json p;
      p["policy"] = r.policy;
      p["requests"] = r.requests;
      p["completed"] = r.completed;
      p["slo_misses"] = r.slo_misses;
      p["slo_miss_ratio"] = r.requests ? static_cast<double>(r.slo_misses) / r.requests : 0.0;
      // Rounded like the table so both views of one run agree digit for digit.
      p["ttft_p50_s"] = std::stod(format_fixed(r.ttft_p50_s, 3));
      p["ttft_p99_s"] = std::isfinite(r.ttft_p99_s)
                            ? nlohmann::ordered_json(std::stod(format_fixed(r.ttft_p99_s, 3)))
                            : nlohmann::ordered_json(nullptr);
      p["replica_seconds"] = std::stod(format_fixed(r.replica_seconds, 1));
      p["scale_events"] = r.scale_events;
      p["max_replicas"] = r.max_replicas;
      p["preemptions"] = r.preemptions;
      if (show_events) {
        p["events"] = nlohmann::ordered_json::array();
        for (const auto& e : r.events) {
          p["events"].push_back({{"time_s", std::stod(format_fixed(e.time_s, 2))},
                                 {"from", e.from},
                                 {"to", e.to},
                                 {"reason", e.reason}});
        }
      }
      j["policies"].push_back(std::move(p));
    }
    return j.dump(2) + "\n";
  }
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line,
                "trace %s: %ld requests over %.0f s; replica model %s; TTFT SLO %.2f s; "
                "decision every %.0f s; pod start-up %.0f s; replicas %d..%d\n",
                trace_name.c_str(), results.empty() ? 0L : results[0].requests,
                results.empty() ? 0.0 : results[0].duration_s, model_name.c_str(), cfg.slo_ttft_s,
                cfg.interval_s,
                cfg.replica.startup_s, cfg.turbine.min_replicas, cfg.turbine.max_replicas);
  out += line;
  std::snprintf(line, sizeof line, "%-10s %10s %8s %9s %9s %10s %9s %7s %8s %11s\n", "policy",
                "slo_misses", "miss_%", "ttft_p50", "ttft_p99", "replica_s", "replica_h", "events",
                "max_rep", "preemptions");
  out += line;
  for (const auto& r : results) {
    double miss = r.requests ? 100.0 * r.slo_misses / r.requests : 0.0;
    std::string p99 = std::isfinite(r.ttft_p99_s) ? format_fixed(r.ttft_p99_s, 3) : "inf";
    std::snprintf(line, sizeof line, "%-10s %10ld %8s %9s %9s %10s %9s %7d %8d %11ld\n",
                  r.policy.c_str(), r.slo_misses, format_fixed(miss, 2).c_str(),
                  format_fixed(r.ttft_p50_s, 3).c_str(), p99.c_str(), format_fixed(r.replica_seconds, 1).c_str(),
                  format_fixed(r.replica_seconds / 3600, 2).c_str(), r.scale_events, r.max_replicas,
                  r.preemptions);
    out += line;
  }
  if (show_events) {
    for (const auto& r : results) {
      out += "\nscale events (" + r.policy + "):\n";
      for (const auto& e : r.events) {
        std::snprintf(line, sizeof line, "  t=%8.2f  %2d -> %2d  ", e.time_s, e.from, e.to);
        out += line + e.reason + "\n";
      }
    }
  }
  return out;
}

std::vector<TraceRequest> scale_rate(const std::vector<TraceRequest>& trace, double factor) {
  // Request j is kept floor((j+1)·f) − floor(j·f) times (f per request on average, and
  // deterministic), the copies spread evenly up to the next arrival: the load's shape and
  // duration stay, its rate is multiplied.
  std::vector<TraceRequest> out;
  out.reserve(static_cast<size_t>(trace.size() * factor) + 1);
  for (size_t j = 0; j < trace.size(); ++j) {
    const long copies = static_cast<long>(std::floor((j + 1) * factor + 1e-9)) -
                        static_cast<long>(std::floor(j * factor + 1e-9));
    const double gap = j + 1 < trace.size() ? trace[j + 1].time_s - trace[j].time_s : 0.0;
    for (long i = 0; i < copies; ++i) {
      TraceRequest r = trace[j];
      r.time_s += gap * static_cast<double>(i) / static_cast<double>(copies);
      out.push_back(r);
    }
  }
  return out;
}

namespace {

// What the flags set: the simulator's config, and the durations in seconds until they are
// written into it.
struct SimArgs {
  SimConfig cfg;
  std::string trace_path, replica_path, model_name = "built-in";
  double rate_scale = 1;
  bool json = false, events = false;
  std::vector<double> hpa_targets = {0.3, 0.5, 0.7};
  double queue_target = 5;
  double horizon, window, drain, smoothing, down_window, decay;
};

void add_run_options(CLI::App& app, SimArgs& a) {
  SimConfig& cfg = a.cfg;
  app.add_option("--trace", a.trace_path, "CSV trace: time_s,prompt_tokens,output_tokens")
      ->required();
  app.add_option("--replica", a.replica_path,
                 "replica model JSON (bench/replica-models/); default: the built-in model");
  app.add_option("--rate-scale", a.rate_scale,
                 "multiply the trace's arrival rates, keeping its shape and duration (for "
                 "replicas larger or smaller than the traces were drawn for)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--slo-ttft", cfg.slo_ttft_s, "TTFT target in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--interval", cfg.interval_s, "decision period in seconds")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  app.add_option("--startup", cfg.replica.startup_s, "pod start-up delay in seconds")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--initial-replicas", cfg.initial_replicas, "replicas at t=0")
      ->capture_default_str();
  app.add_option("--min-replicas", cfg.turbine.min_replicas, "lower bound (every policy)")
      ->capture_default_str();
  app.add_option("--max-replicas", cfg.turbine.max_replicas, "upper bound (every policy)")
      ->capture_default_str();
  app.add_option("--hpa-target", a.hpa_targets,
                 "baselines: HPA target batch occupancies (averageUtilization / 100), one row each")
      ->delimiter(',')
      ->capture_default_str();
  app.add_option("--queue-target", a.queue_target,
                 "baseline: HPA/KEDA target of turbine_requests_waiting per pod")
      ->capture_default_str();
  app.add_flag("--json", a.json, "print JSON instead of a table");
  app.add_flag("--events", a.events, "also list every scale event with its reason");
}

void add_policy_options(CLI::App& app, SimArgs& a) {
  PolicyConfig& p = a.cfg.turbine;
  DemandConfig& dm = p.demand;
  a.horizon = dm.forecast_horizon.count();
  a.window = dm.trend_window.count();
  a.drain = dm.drain_time.count();
  a.smoothing = dm.smoothing.count();
  a.down_window = p.scale_down_window.count();
  a.decay = p.peak_decay.count();
  auto opt = [&app](const char* name, auto& value, const char* help) {
    app.add_option(name, value, help)->capture_default_str();
  };
  opt("--target-waiting", p.target_waiting, "turbine: target waiting requests per pod");
  opt("--target-kv", p.target_kv, "turbine: target KV-cache usage");
  opt("--headroom", dm.headroom, "turbine: square-root staffing factor");
  opt("--forecast-horizon", a.horizon, "turbine: arrival trend projected (seconds)");
  opt("--trend-window", a.window, "turbine: trend fitted over (seconds)");
  opt("--drain-time", a.drain, "turbine: backlog drained within (seconds)");
  opt("--smoothing", a.smoothing, "turbine: rate averaging time constant (seconds)");
  opt("--target-prefill", dm.target_prefill, "turbine: prefill utilisation per pod");
  opt("--peak-decay", a.decay, "turbine: time constant of the remembered peak need (seconds)");
  opt("--scale-down-window", a.down_window, "turbine: scale-down stabilization (seconds)");
}

// Loads the replica model and completes the policy config. 0, or the exit code.
int finish(const CLI::App& app, SimArgs& a) {
  SimConfig& cfg = a.cfg;
  if (!a.replica_path.empty()) {
    auto file = load_replica_model(a.replica_path);
    if (!file) {
      std::fprintf(stderr, "turbine-autoscaler simulate: %s\n", file.error().c_str());
      return 1;
    }
    const double startup = cfg.replica.startup_s;
    cfg.replica = file->model;
    if (app.count("--startup") > 0) cfg.replica.startup_s = startup;  // the flag wins
    a.model_name = file->name;
  }
  PolicyConfig& p = cfg.turbine;
  DemandConfig& dm = p.demand;
  p.max_data_age = Seconds(4 * cfg.interval_s);
  dm.forecast_horizon = Seconds(a.horizon);
  dm.trend_window = Seconds(a.window);
  dm.drain_time = Seconds(a.drain);
  dm.smoothing = Seconds(a.smoothing);
  p.scale_down_window = Seconds(a.down_window);
  p.peak_decay = Seconds(a.decay);
  // The chart gives the sidecar the engine's --max-running, and bench/serving measures the
  // prefill rate: here both come from the replica model.
  const ReplicaModel& r = cfg.replica;
  dm.max_running = r.max_batch;
  // A chunk of a first prompt: its tokens attend to half the chunk on average.
  dm.prefill_tokens_per_second =
      r.prefill_chunk / (r.step_fixed_s + r.step_per_seq_s * r.max_batch +
                         r.prefill_per_token_s * r.prefill_chunk +
                         r.prefill_attention_s * r.prefill_chunk * r.prefill_chunk / 2.0);
  if (std::string e = p.validate(); !e.empty()) {
    std::fprintf(stderr, "turbine-autoscaler simulate: --%s\n", e.c_str());
    return 2;
  }
  for (double t : a.hpa_targets) {
    if (!(t > 0 && t <= 1)) {
      std::fprintf(stderr, "turbine-autoscaler simulate: --hpa-target must be in (0, 1]\n");
      return 2;
    }
  }
  if (!(a.queue_target > 0)) {
    std::fprintf(stderr, "turbine-autoscaler simulate: --queue-target must be > 0\n");
    return 2;
  }
  return 0;
}

}  // namespace

int simulate_main(const std::vector<std::string>& args) {
  CLI::App app(
      "turbine-autoscaler simulate: replay a request trace through turbine's scale "
      "policy and the baselines (HPA on utilisation, HPA/KEDA on the queue, llm-d's "
      "saturation rule) on a fake clock",
      "turbine-autoscaler simulate");
  SimArgs a;
  add_run_options(app, a);
  add_policy_options(app, a);
  std::vector<std::string> rev(args.rbegin(), args.rend());
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp&) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "turbine-autoscaler simulate: %s (see --help)\n", e.what());
    return 2;
  }
  if (int rc = finish(app, a); rc != 0) return rc;
  auto trace = load_trace(a.trace_path);
  if (!trace) {
    std::fprintf(stderr, "turbine-autoscaler simulate: %s\n", trace.error().c_str());
    return 1;
  }
  if (a.rate_scale != 1) *trace = scale_rate(*trace, a.rate_scale);
  std::vector<SimPolicy> policies = {{SimPolicyKind::kTurbine, 0}};
  for (double t : a.hpa_targets) policies.push_back({SimPolicyKind::kHpa, t});
  policies.push_back({SimPolicyKind::kQueue, a.queue_target});
  policies.push_back({SimPolicyKind::kSaturation, 0});
  std::vector<SimResult> results;
  for (const SimPolicy& p : policies) results.push_back(simulate(*trace, a.cfg, p));
  std::string name = a.trace_path.substr(a.trace_path.find_last_of('/') + 1);
  std::string report = format_simulation(name, a.model_name, a.cfg, results, a.json, a.events);
  std::fwrite(report.data(), 1, report.size(), stdout);
  return 0;
}

}  // namespace turbine::autoscaler
