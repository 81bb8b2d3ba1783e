#include "sidecar/engine_load.h"

#include <algorithm>
#include <cmath>

namespace turbine::autoscaler {

Result<EngineLoad> engine_load_from(const PromText& text) {
  EngineLoad load;
  auto waiting = text.sum("turbine_requests_waiting");
  auto kv = text.sum("turbine_kv_cache_usage_ratio");
  if (!waiting) return Error{"no turbine_requests_waiting in the metrics page"};
  if (!kv) return Error{"no turbine_kv_cache_usage_ratio in the metrics page"};
  if (!std::isfinite(*waiting) || !std::isfinite(*kv)) {
    return Error{"turbine_requests_waiting or turbine_kv_cache_usage_ratio is not finite"};
  }
  load.waiting = std::max(0.0, *waiting);
  load.kv_usage = std::clamp(*kv, 0.0, 1.0);
  load.running = std::max(0.0, text.sum("turbine_requests_running").value_or(0.0));
  load.preemptions_total = text.sum("turbine_preemptions_total");
  load.finished_total = text.sum("turbine_requests_total");
  load.prompt_tokens_total = text.sum("turbine_prompt_tokens_total");
  load.prefill_tokens_waiting = text.sum("turbine_prefill_tokens_waiting");

  // turbine_device_memory_bytes{device,kind="used|total"}: pair used/total per device.
  std::map<std::string, std::pair<std::optional<double>, std::optional<double>>> devices;
  for (const PromSample* s : text.find("turbine_device_memory_bytes")) {
    auto device = s->label("device");
    auto kind = s->label("kind");
    if (!device || !kind) continue;
    auto& slot = devices[std::string(*device)];
    if (*kind == "used") slot.first = s->value;
    if (*kind == "total") slot.second = s->value;
  }
  for (const auto& [device, ut] : devices) {
    if (!ut.first || !ut.second || *ut.second <= 0) continue;
    double free = std::max(0.0, *ut.second - *ut.first);
    load.free_device_bytes = std::min(load.free_device_bytes.value_or(free), free);
  }
  return load;
}

std::optional<double> CounterRates::update(const std::string& pod, const std::string& counter,
                                           TimePoint now, std::optional<double> total) {
  const auto key = std::make_pair(pod, counter);
  if (!total || !std::isfinite(*total)) {
    last_.erase(key);
    return std::nullopt;
  }
  auto it = last_.find(key);
  std::optional<double> rate;
  if (it != last_.end() && *total >= it->second.total) {
    double dt = std::chrono::duration<double>(now - it->second.at).count();
    if (dt > 0) rate = (*total - it->second.total) / dt;
  }
  last_[key] = Last{now, *total};
  return rate;
}

void CounterRates::forget_older_than(TimePoint before) {
  std::erase_if(last_, [&](const auto& kv) { return kv.second.at < before; });
}

}  // namespace turbine::autoscaler
