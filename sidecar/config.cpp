#include "sidecar/config.h"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>

#include "sidecar/k8s_config.h"

namespace turbine::autoscaler {

namespace {

struct OptionSpec {
  const char* name;
  const char* help;
  const char* default_value;  // "" = unset
  bool flag;                  // boolean switch
};

// The single list of knobs: flags, YAML keys and defaults come from here.
constexpr OptionSpec kOptions[] = {
    {"kubeconfig", "kubeconfig file (default: in-cluster service account)", "", false},
    {"namespace", "namespace of the Deployment (default: service account's or context's)", "",
     false},
    {"deployment", "Deployment to scale (required)", "", false},
    {"service", "Service whose EndpointSlices list the engine pods (required)", "", false},
    {"metrics-port", "engine port scraped at http://<pod-ip>:<port>/metrics", "8000", false},
    {"lease-name", "Lease for leader election (default <deployment>-autoscaler)", "", false},
    {"identity", "holderIdentity in the Lease (default $POD_NAME, else hostname)", "", false},
    {"listen", "address of the sidecar's /metrics and /healthz", "0.0.0.0:9091", false},
    {"interval", "decision period (seconds, or 15s/1m)", "15s", false},
    {"scrape-timeout", "timeout of one pod scrape (seconds)", "2", false},
    {"min-replicas", "lower bound of replicas", "1", false},
    {"max-replicas", "upper bound of replicas", "10", false},
    {"target-waiting", "target waiting requests per pod", "4", false},
    {"target-kv", "target KV-cache usage ratio per pod", "0.8", false},
    {"tolerance", "no change while |ratio - 1| <= tolerance", "0.1", false},
    {"scale-up-period", "scale-up rate-limit period (seconds)", "15", false},
    {"scale-up-factor", "at most ×factor per scale-up period ...", "2", false},
    {"scale-up-step", "... or +step, whichever is larger", "4", false},
    {"scale-down-window", "scale-down stabilization window (seconds)", "120", false},
    {"peak-decay", "the remembered peak need decays with this time constant (seconds; 0 = off)",
     "600", false},
    {"max-running", "sequences one engine runs at once (the engine's --max-running)", "64", false},
    {"headroom", "square-root staffing: slots = need + headroom × sqrt(need)", "1", false},
    {"forecast-horizon", "arrival trend projected this far ahead (seconds; pod start-up + a period)",
     "90", false},
    {"trend-window", "arrival trend fitted over this much history (seconds)", "180", false},
    {"drain-time", "a queue or prefill backlog should be gone within this (seconds)", "30", false},
    {"smoothing", "time constant of the rate averages (seconds)", "30", false},
    {"prefill-tokens-per-second", "prompt tokens one engine prefills per second at a full "
     "batch (0 = prefill not sized)", "0", false},
    {"target-prefill", "prefill utilisation an engine is sized to", "0.5", false},
    {"scale-down-period", "scale-down rate-limit period (seconds)", "60", false},
    {"scale-down-percent", "at most this percent of replicas removed per period", "50", false},
    {"max-data-age", "pod samples older than this count as missing (seconds; 0 = 4×interval)", "0",
     false},
    {"kv-free-floor-bytes", "a pod with less free device memory is saturated (0 = off)", "0",
     false},
    {"lease-duration", "Lease duration (seconds)", "15", false},
    {"renew-deadline", "leader gives up if it cannot renew within this (seconds)", "10", false},
    {"retry-period", "Lease acquire/renew period (seconds)", "2", false},
    // The Lease is still taken in a dry run: it picks the one instance that reports.
    {"dry-run", "log and export decisions; write no scale and no Events", "false", true},
    {"log-json", "log JSON lines instead of key=value", "false", true},
};

std::string normalize_key(std::string key) {
  while (!key.empty() && key[0] == '-') key.erase(0, 1);
  for (char& c : key) {
    if (c == '_') c = '-';
  }
  return key;
}

bool known_option(const std::string& key) {
  for (const auto& o : kOptions) {
    if (key == o.name) return true;
  }
  return false;
}

Status load_yaml(const std::string& path, std::map<std::string, std::string>& values) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{"cannot read config file " + path};
  } catch (const YAML::Exception& e) {
    return Error{"config file " + path + ": " + e.what()};
  }
  if (root.IsNull()) return Status::Ok();
  if (!root.IsMap()) return Error{"config file " + path + ": expected a mapping of flag names"};
  for (const auto& kv : root) {
    std::string key = normalize_key(kv.first.as<std::string>());
    if (!known_option(key)) {
      return Error{"config file " + path + ": unknown key '" + kv.first.as<std::string>() + "'"};
    }
    if (kv.second.IsNull()) continue;
    if (!kv.second.IsScalar()) {
      return Error{"config file " + path + ": key '" + key + "' must be a scalar"};
    }
    values[key] = kv.second.as<std::string>();
  }
  return Status::Ok();
}

Result<double> to_double(const std::string& key, const std::string& v) {
  double out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || !std::isfinite(out)) {
    return Error{"invalid value for --" + key + ": '" + v + "' (expected a number)"};
  }
  return out;
}

Result<int> to_int(const std::string& key, const std::string& v) {
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) {
    return Error{"invalid value for --" + key + ": '" + v + "' (expected an integer)"};
  }
  return out;
}

Result<bool> to_bool(const std::string& key, const std::string& v) {
  std::string l;
  for (char c : v) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "true" || l == "1" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "0" || l == "no" || l == "off") return false;
  return Error{"invalid value for --" + key + ": '" + v + "' (expected true or false)"};
}

Result<Seconds> to_seconds(const std::string& key, const std::string& v) {
  auto s = parse_duration_seconds(v);
  if (!s) return Error{"invalid value for --" + key + ": " + s.error()};
  return Seconds(*s);
}

std::string default_identity() {
  if (const char* pod = std::getenv("POD_NAME"); pod && *pod) return pod;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0]) return host;
  return "turbine-autoscaler";
}

// Typed reads of the merged string values; the first bad value is the error.
class TypedValues {
 public:
  explicit TypedValues(const std::map<std::string, std::string>& v) : v_(v) {}
  const std::string& str(const char* k) const { return v_.at(k); }
  void num(const char* k, double& out) { take(to_double(k, str(k)), out); }
  void integer(const char* k, int& out) { take(to_int(k, str(k)), out); }
  void secs(const char* k, Seconds& out) { take(to_seconds(k, str(k)), out); }
  void boolean(const char* k, bool& out) { take(to_bool(k, str(k)), out); }
  const std::string& error() const { return err_; }

 private:
  template <typename R, typename T>
  void take(const R& r, T& out) {
    if (!err_.empty()) return;
    if (r) {
      out = *r;
    } else {
      err_ = r.error();
    }
  }
  const std::map<std::string, std::string>& v_;
  std::string err_;
};

void read_run_values(TypedValues& tv, RunConfig& c) {
  c.kubeconfig = tv.str("kubeconfig");
  c.namespace_name = tv.str("namespace");
  c.deployment = tv.str("deployment");
  c.service = tv.str("service");
  c.lease_name = tv.str("lease-name");
  c.identity = tv.str("identity");
  c.listen = tv.str("listen");
  tv.integer("metrics-port", c.metrics_port);
  tv.secs("interval", c.interval);
  tv.secs("scrape-timeout", c.scrape_timeout);
  tv.secs("lease-duration", c.lease_duration);
  tv.secs("renew-deadline", c.renew_deadline);
  tv.secs("retry-period", c.retry_period);
  tv.boolean("dry-run", c.dry_run);
  tv.boolean("log-json", c.log_json);
  PolicyConfig& p = c.policy;
  tv.integer("min-replicas", p.min_replicas);
  tv.integer("max-replicas", p.max_replicas);
  tv.num("target-waiting", p.target_waiting);
  tv.num("target-kv", p.target_kv);
  tv.num("tolerance", p.tolerance);
  tv.secs("scale-up-period", p.scale_up_period);
  tv.num("scale-up-factor", p.scale_up_factor);
  tv.integer("scale-up-step", p.scale_up_step);
  tv.secs("scale-down-window", p.scale_down_window);
  tv.secs("peak-decay", p.peak_decay);
  tv.integer("max-running", p.demand.max_running);
  tv.num("headroom", p.demand.headroom);
  tv.secs("forecast-horizon", p.demand.forecast_horizon);
  tv.secs("trend-window", p.demand.trend_window);
  tv.secs("drain-time", p.demand.drain_time);
  tv.secs("smoothing", p.demand.smoothing);
  tv.num("prefill-tokens-per-second", p.demand.prefill_tokens_per_second);
  tv.num("target-prefill", p.demand.target_prefill);
  tv.secs("scale-down-period", p.scale_down_period);
  tv.num("scale-down-percent", p.scale_down_percent);
  tv.secs("max-data-age", p.max_data_age);
  tv.num("kv-free-floor-bytes", p.kv_free_floor_bytes);
}

// Cross-field checks, then the defaults that depend on other fields.
Status check_run_config(RunConfig& c) {
  if (c.deployment.empty()) return Error{"--deployment is required"};
  if (c.service.empty()) return Error{"--service is required"};
  if (c.metrics_port < 1 || c.metrics_port > 65535) return Error{"--metrics-port out of range"};
  if (!(c.interval.count() > 0)) return Error{"--interval must be > 0"};
  if (!(c.scrape_timeout.count() > 0)) return Error{"--scrape-timeout must be > 0"};
  if (!(c.retry_period.count() > 0)) return Error{"--retry-period must be > 0"};
  if (!(c.renew_deadline > c.retry_period)) {
    return Error{"--renew-deadline must be longer than --retry-period"};
  }
  if (!(c.lease_duration > c.renew_deadline)) {
    return Error{"--lease-duration must be longer than --renew-deadline"};
  }
  if (c.listen.rfind(':') == std::string::npos) return Error{"--listen must be HOST:PORT"};
  PolicyConfig& p = c.policy;
  if (p.max_data_age.count() == 0) {
    // Four periods: one failed scrape (or a slow one) must not blind the policy.
    p.max_data_age = Seconds(4 * c.interval.count() + c.scrape_timeout.count());
  }
  if (std::string e = p.validate(); !e.empty()) return Error{"--" + e};
  if (c.lease_name.empty()) c.lease_name = c.deployment + "-autoscaler";
  if (c.identity.empty()) c.identity = default_identity();
  return Status::Ok();
}

Result<RunConfig> build(const std::map<std::string, std::string>& v, std::string config_file) {
  RunConfig c;
  c.config_file = std::move(config_file);
  TypedValues tv(v);
  read_run_values(tv, c);
  if (!tv.error().empty()) return Error{tv.error()};
  if (Status s = check_run_config(c); !s) return Error{s.error()};
  return c;
}

void add_options(CLI::App& app, std::map<std::string, std::string>& cli_values,
                 std::map<std::string, bool>& cli_flags, std::string& config_file) {
  app.add_option("--config", config_file, "YAML file of these settings (flags win)");
  app.footer(std::string("In-cluster (no --kubeconfig), from the environment:\n"
                         "  KUBERNETES_SERVICE_HOST/PORT   the API server (HTTPS)\n"
                         "  TURBINE_SERVICE_ACCOUNT_DIR    its token, ca.crt and namespace [") +
             kServiceAccountDir +
             "]\n"
             "The token file is re-read when it changes: projected tokens rotate.");
  for (const auto& o : kOptions) {
    std::string flag = std::string("--") + o.name;
    std::string help = o.help;
    if (*o.default_value && !o.flag) help += std::string(" [") + o.default_value + "]";
    if (o.flag) {
      app.add_flag(flag, cli_flags[o.name], help);
    } else {
      app.add_option(flag, cli_values[o.name], help);
    }
  }
}

}  // namespace

Result<double> parse_duration_seconds(const std::string& text) {
  if (text.empty()) return Error{"empty duration"};
  // A bare number is seconds (what the chart's values.yaml writes).
  double plain = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), plain);
  if (ec == std::errc() && p == text.data() + text.size()) {
    if (!std::isfinite(plain) || plain < 0) return Error{"'" + text + "' is not a duration"};
    return plain;
  }
  double total = 0;
  size_t i = 0;
  while (i < text.size()) {
    double n = 0;
    auto [q, e] = std::from_chars(text.data() + i, text.data() + text.size(), n);
    if (e != std::errc() || n < 0) {
      return Error{"'" + text + "' is not a duration (e.g. 15, 2.5, 15s, 500ms, 1m30s)"};
    }
    i = q - text.data();
    size_t u = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string unit = text.substr(u, i - u);
    double scale = unit == "ms"  ? 1e-3
                   : unit == "s" ? 1
                   : unit == "m" ? 60
                   : unit == "h" ? 3600
                                 : -1;
    if (scale < 0) {
      return Error{"'" + text + "' is not a duration (units: ms, s, m, h)"};
    }
    total += n * scale;
  }
  return total;
}

std::string run_help() {
  CLI::App app("turbine-autoscaler run: scale the engine Deployment", "turbine-autoscaler run");
  std::map<std::string, std::string> v;
  std::map<std::string, bool> f;
  std::string cfg;
  add_options(app, v, f, cfg);
  return app.help();
}

ParsedRun parse_run_config(const std::vector<std::string>& args) {
  ParsedRun out;
  CLI::App app("turbine-autoscaler run: scale the engine Deployment", "turbine-autoscaler run");
  std::map<std::string, std::string> cli_values;
  std::map<std::string, bool> cli_flags;
  std::string config_file;
  add_options(app, cli_values, cli_flags, config_file);
  std::vector<std::string> rev(args.rbegin(), args.rend());  // CLI11 parses a reversed vector
  try {
    app.parse(rev);
  } catch (const CLI::CallForHelp&) {
    out.exit = true;
    out.message = app.help();
    return out;
  } catch (const CLI::ParseError& e) {
    out.exit = true;
    out.exit_code = 2;
    out.message = std::string("turbine-autoscaler: ") + e.what() + " (see --help)";
    return out;
  }

  std::map<std::string, std::string> values;
  for (const auto& o : kOptions) values[o.name] = o.default_value;
  if (!config_file.empty()) {
    if (Status st = load_yaml(config_file, values); !st.ok()) {
      out.exit = true;
      out.exit_code = 2;
      out.message = "turbine-autoscaler: " + st.error();
      return out;
    }
  }
  for (const auto& o : kOptions) {
    auto* opt = app.get_option(std::string("--") + o.name);
    if (opt->count() == 0) continue;
    values[o.name] = o.flag ? (cli_flags[o.name] ? "true" : "false") : cli_values[o.name];
  }
  auto built = build(values, config_file);
  if (!built) {
    out.exit = true;
    out.exit_code = 2;
    out.message = "turbine-autoscaler: " + built.error();
    return out;
  }
  out.config = std::move(*built);
  return out;
}

}  // namespace turbine::autoscaler
