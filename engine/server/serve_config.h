// `turbine serve` settings: flags, and a YAML config file (--config) whose keys are the
// flag names without dashes (`port: 8000`, `kv-cache-fraction: 0.5`). Flags given on the
// command line win over the file.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace turbine {

struct ServeConfig {
  std::string model;
  std::string served_model_name;
  std::string host = "0.0.0.0";
  int port = 8000;
  int admin_port = -1;  // -1: no admin listener
  bool metrics_auth = false;
  int max_connections = 1024;
  double keep_alive_timeout_s = 30;
  std::string device = "auto";
  int threads = 0;
  std::vector<std::string> api_keys;
  double kv_cache_fraction = 0.85;
  std::string kv_cache_dtype = "f16";  // f16 | int8 | int4
  int kv_blocks = 0;
  int kv_cache_mb = 0;  // > 0: the pool's size in MiB (overrides the fraction)
  int block_size = 16;
  int max_batch_tokens = 512;
  int max_running = 64;
  int max_queue = 256;
  int max_prompt_tokens = 0;
  int max_tokens_default = 0;
  double request_timeout_s = 600;
  double drain_timeout_s = 30;
  long long max_body_bytes = 8 << 20;
  int http_threads = 0;  // 0: max_running + max_queue + 16 (a thread for every request held)
  bool prefix_caching = true;
  bool log_json = false;
};

// Applies the YAML file's keys to `cfg`, skipping keys for which `given(key)` is true (set
// on the command line). Unknown keys, wrong types and unreadable files are errors that name
// the file and the key.
Status apply_config_file(const std::string& path, ServeConfig& cfg,
                         const std::function<bool(const std::string&)>& given);
// Range checks shared by flags and file.
Status validate(const ServeConfig& cfg);

}  // namespace turbine
