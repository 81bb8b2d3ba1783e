#include "sidecar/replica_model_file.h"

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace turbine::autoscaler {

Result<ReplicaModelFile> parse_replica_model(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    return Error{std::string("not JSON: ") + e.what()};
  }
  if (!j.is_object()) return Error{"expected a JSON object"};
  ReplicaModelFile out;
  ReplicaModel& m = out.model;
  struct Number {
    const char* key;
    double* real;
    int* integer;
    double min;
    const char* rule;  // the range in words
    bool optional = false;  // absent: 0
  };
  double fixed = 0, per_seq = 0, per_token = 0, startup = 0, prefill_attn = 0, decode_attn = 0;
  int batch = 0, kv = 0, chunk = 0;
  const Number numbers[] = {
      {"max_batch", nullptr, &batch, 1, ">= 1"},
      {"kv_tokens", nullptr, &kv, 1, ">= 1"},
      {"prefill_chunk", nullptr, &chunk, 1, ">= 1"},
      {"step_fixed_s", &fixed, nullptr, 1e-9, "> 0"},
      {"step_per_seq_s", &per_seq, nullptr, 0, ">= 0"},
      {"prefill_per_token_s", &per_token, nullptr, 0, ">= 0"},
      {"startup_s", &startup, nullptr, 0, ">= 0"},
      {"prefill_attention_s", &prefill_attn, nullptr, 0, ">= 0", true},
      {"decode_attention_s", &decode_attn, nullptr, 0, ">= 0", true},
  };
  for (const auto& [key, value] : j.items()) {
    bool known = key == "name" || key == "basis" || key == "notes";
    for (const Number& n : numbers) known = known || key == n.key;
    if (!known) return Error{"unknown key '" + key + "'"};
  }
  for (const char* key : {"name", "basis"}) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) {
      return Error{std::string("'") + key + "' must be a non-empty string"};
    }
  }
  if (j.contains("notes") && !j["notes"].is_object()) return Error{"'notes' must be an object"};
  out.name = j["name"].get<std::string>();
  out.basis = j["basis"].get<std::string>();
  for (const Number& n : numbers) {
    if (!j.contains(n.key)) {
      if (n.optional) continue;
      return Error{std::string("missing '") + n.key + "'"};
    }
    const auto& v = j[n.key];
    if (!v.is_number()) return Error{std::string("'") + n.key + "' must be a number"};
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < n.min) {
      return Error{std::string("'") + n.key + "' must be " + n.rule};
    }
    if (n.integer) {
      if (x != std::floor(x) || x > 1e9) return Error{std::string("'") + n.key + "' must be an integer"};
      *n.integer = static_cast<int>(x);
    } else {
      *n.real = x;
    }
  }
  m.max_batch = batch;
  m.kv_tokens = kv;
  m.prefill_chunk = chunk;
  m.step_fixed_s = fixed;
  m.step_per_seq_s = per_seq;
  m.prefill_per_token_s = per_token;
  m.startup_s = startup;
  m.prefill_attention_s = prefill_attn;
  m.decode_attention_s = decode_attn;
  return out;
}

Result<ReplicaModelFile> load_replica_model(const std::string& path) {
  std::ifstream f(path);
  if (!f) return Error{"cannot read replica model " + path};
  std::stringstream ss;
  ss << f.rdbuf();
  auto r = parse_replica_model(ss.str());
  if (!r) return Error{path + ": " + r.error()};
  return r;
}

}  // namespace turbine::autoscaler
