#include "engine/server/serve_config.h"

#include <yaml-cpp/yaml.h>

namespace turbine {

namespace {

using Setter = std::function<void(const YAML::Node&)>;

template <typename T>
Setter set(T& field) {
  return [&field](const YAML::Node& n) { field = n.as<T>(); };
}

}  // namespace

Status apply_config_file(const std::string& path, ServeConfig& c,
                         const std::function<bool(const std::string&)>& given) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Error{"cannot read config file '" + path + "'"};
  } catch (const YAML::Exception& e) {
    return Error{"config file '" + path + "' is not valid YAML: " + e.what()};
  }
  if (root.IsNull()) return {};
  if (!root.IsMap()) return Error{"config file '" + path + "' must be a mapping of flag names to values"};
  const std::map<std::string, Setter> setters = {
      {"model", set(c.model)},
      {"served-model-name", set(c.served_model_name)},
      {"host", set(c.host)},
      {"port", set(c.port)},
      {"admin-port", set(c.admin_port)},
      {"metrics-auth", set(c.metrics_auth)},
      {"max-connections", set(c.max_connections)},
      {"keep-alive-timeout", set(c.keep_alive_timeout_s)},
      {"device", set(c.device)},
      {"threads", set(c.threads)},
      {"api-key", [&c](const YAML::Node& n) {
         if (n.IsSequence()) {
           c.api_keys = n.as<std::vector<std::string>>();
         } else {
           c.api_keys = {n.as<std::string>()};
         }
       }},
      {"kv-cache-fraction", set(c.kv_cache_fraction)},
      {"kv-cache-dtype", set(c.kv_cache_dtype)},
      {"kv-blocks", set(c.kv_blocks)},
      {"kv-cache-mb", set(c.kv_cache_mb)},
      {"block-size", set(c.block_size)},
      {"max-batch-tokens", set(c.max_batch_tokens)},
      {"max-running", set(c.max_running)},
      {"max-queue", set(c.max_queue)},
      {"max-prompt-tokens", set(c.max_prompt_tokens)},
      {"max-tokens-default", set(c.max_tokens_default)},
      {"request-timeout", set(c.request_timeout_s)},
      {"drain-timeout", set(c.drain_timeout_s)},
      {"max-body-bytes", set(c.max_body_bytes)},
      {"http-threads", set(c.http_threads)},
      {"prefix-caching", set(c.prefix_caching)},
      {"log-json", set(c.log_json)},
  };
  for (auto it = root.begin(); it != root.end(); ++it) {
    std::string key = it->first.as<std::string>();
    auto s = setters.find(key);
    if (s == setters.end()) {
      std::string known;
      for (const auto& [k, _] : setters) known += (known.empty() ? "" : ", ") + k;
      return Error{"config file '" + path + "': unknown key '" + key + "' (known: " + known + ")"};
    }
    if (given(key)) continue;
    try {
      s->second(it->second);
    } catch (const YAML::Exception&) {
      return Error{"config file '" + path + "': key '" + key + "' has a value of the wrong type"};
    }
  }
  return validate(c);
}

Status validate(const ServeConfig& c) {
  auto bad = [](const std::string& m) { return Status(Error{m}); };
  if (c.port < 0 || c.port > 65535) return bad("port must be in [0, 65535]");
  if (c.admin_port < -1 || c.admin_port > 65535) return bad("admin-port must be in [0, 65535] (or -1: none)");
  if (c.admin_port > 0 && c.admin_port == c.port) return bad("admin-port must differ from port");
  if (c.max_connections < 1) return bad("max-connections must be >= 1");
  if (!(c.keep_alive_timeout_s > 0)) return bad("keep-alive-timeout must be > 0 seconds");
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda")
    return bad("device must be auto, cpu or cuda (got '" + c.device + "')");
  if (!(c.kv_cache_fraction > 0 && c.kv_cache_fraction <= 1)) return bad("kv-cache-fraction must be in (0, 1]");
  if (c.kv_cache_dtype != "f16" && c.kv_cache_dtype != "int8" && c.kv_cache_dtype != "int4")
    return bad("kv-cache-dtype must be f16, int8 or int4 (got '" + c.kv_cache_dtype + "')");
  if (c.kv_blocks < 0) return bad("kv-blocks must be >= 0");
  if (c.kv_cache_mb < 0) return bad("kv-cache-mb must be >= 0");
  if (c.block_size < 16 || c.block_size > 64 || (c.block_size & (c.block_size - 1)))
    return bad("block-size must be 16, 32 or 64");
  if (c.max_batch_tokens < 1) return bad("max-batch-tokens must be >= 1");
  if (c.max_running < 1) return bad("max-running must be >= 1");
  if (c.max_queue < 0) return bad("max-queue must be >= 0");
  if (c.max_prompt_tokens < 0) return bad("max-prompt-tokens must be >= 0");
  if (c.request_timeout_s < 0) return bad("request-timeout must be >= 0 seconds");
  if (c.drain_timeout_s < 0) return bad("drain-timeout must be >= 0 seconds");
  if (c.max_body_bytes < 1024) return bad("max-body-bytes must be at least 1024");
  if (c.http_threads < 0) return bad("http-threads must be >= 0 (0: automatic)");
  if (c.threads < 0) return bad("threads must be >= 0");
  return {};
}

}  // namespace turbine
