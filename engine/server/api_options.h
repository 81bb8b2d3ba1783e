// What the OpenAI API front end is configured with (from `turbine serve` flags).
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

#include "engine/server/api_keys.h"
#include "engine/server/openai_request.h"

namespace turbine {

struct ApiOptions {
  std::string model_id = "SmolLM2-135M-Instruct";  // the id /v1/models lists
  std::string model_arch = "llama";  // its general.architecture, which /v1/models names too
  ApiKeys api_keys;
  size_t max_body_bytes = 8 << 20;
  int max_prompt_tokens = 0;   // 0: the engine's context limit
  int default_max_tokens = 0;  // 0: up to the context limit
  RequestLimits limits;
  // /metrics and /load on the API port need the API key too (the admin port's never do:
  // it is for probes and scrapes inside the cluster).
  bool metrics_auth = false;
};

}  // namespace turbine
