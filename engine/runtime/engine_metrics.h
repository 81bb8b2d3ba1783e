// The engine's metric set: exactly the names in docs/ARCHITECTURE.md, "Metrics", registered
// once on a registry (the default one in production, a private one in tests). Members are
// references to children looked up at construction, so the engine loop's hot path is one
// atomic op per update and never takes the family lock. Label values that are known up
// front (finish reasons, rejection reasons, block states) are created eagerly so their
// series exist at 0 from the first scrape, which keeps rate() and alert rules well defined.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics/rate_window.h"
#include "base/metrics/registry.h"
#include "engine/runtime/admission.h"
#include "engine/runtime/finish_reason.h"

namespace turbine {


class EngineMetrics {
 public:
  using Clock = std::chrono::steady_clock;
  using ClockFn = std::function<Clock::time_point()>;

  // `now` defaults to the steady clock; tests pass a fake one.
  explicit EngineMetrics(metrics::Registry& registry = metrics::default_registry(),
                         ClockFn now = nullptr,
                         Clock::duration rate_window = std::chrono::seconds(10));
  EngineMetrics(const EngineMetrics&) = delete;
  EngineMetrics& operator=(const EngineMetrics&) = delete;

  // Histogram bounds (seconds). TTFT and end-to-end latency span a cache hit on a tiny
  // model (10 ms) to a long generation on a loaded server (60 s); inter-token latency is
  // 1 ms (CPU, small model) to 2 s (thrashing); queue wait shares the wide range.
  static std::vector<double> latency_buckets();      // 0.01 .. 60, log-spaced
  static std::vector<double> inter_token_buckets();  // 0.001 .. 2, log-spaced
  static std::vector<double> queue_wait_buckets();   // 0.001 .. 60, log-spaced
  static std::vector<double> compile_buckets();      // 0.0001 .. 10, log-spaced

  // Gauges.
  metrics::Gauge& requests_waiting;
  metrics::Gauge& requests_running;
  metrics::Gauge& prefill_tokens_waiting;
  metrics::Gauge& kv_cache_usage_ratio;
  metrics::Gauge& kv_cache_blocks_free;                  // turbine_kv_cache_blocks{state="free"}
  metrics::Gauge& kv_cache_blocks_used;                  // turbine_kv_cache_blocks{state="used"}
  metrics::Family<metrics::Gauge>& device_memory_bytes;  // {device, kind="used|total"}
  metrics::Gauge& generation_tokens_per_second;
  metrics::Family<metrics::Gauge>& build_info;  // {version, backend, model, arch} = 1

  // Counters.
  metrics::Counter& prompt_tokens_total;
  metrics::Counter& generation_tokens_total;
  metrics::Family<metrics::Counter>& requests_total;           // {finish_reason}
  metrics::Family<metrics::Counter>& requests_rejected_total;  // {reason}
  // The typed way in: the label is the enum's name (finish_reason.h, admission.h).
  void count_finished(FinishReason r) { requests_total.with({to_string(r)}).inc(); }
  void count_rejected(RejectReason r) { requests_rejected_total.with({to_string(r)}).inc(); }
  metrics::Counter& preemptions_total;
  metrics::Counter& prefix_cache_queries_total;  // prompt tokens looked up in the cache
  metrics::Counter& prefix_cache_hits_total;     // of those, tokens found cached
  // Constrained requests by kind: json_object, json_schema, grammar, tools.
  metrics::Family<metrics::Counter>& structured_requests_total;

  // Histograms (seconds).
  metrics::Histogram& time_to_first_token_seconds;
  metrics::Histogram& inter_token_latency_seconds;
  metrics::Histogram& request_duration_seconds;
  metrics::Histogram& queue_wait_seconds;
  metrics::Histogram& grammar_compile_seconds;  // grammar -> automaton, cache misses only

  // Counts generated tokens into the counter and the short-window rate that backs
  // turbine_generation_tokens_per_second (refreshed at every scrape, so it decays to 0
  // when the engine goes idle even though the loop then stops updating anything).
  void record_generated_tokens(int64_t n);
  double tokens_per_second();

  // Sets turbine_build_info{version,backend,model,arch} 1 (the only series of that family);
  // arch is the model's general.architecture.
  void set_build_info(std::string_view version, std::string_view backend, std::string_view model,
                      std::string_view arch);

  void set_device_memory(std::string_view device, double used_bytes, double total_bytes);

  // Device memory changes after start-up (scratch buffers grow, other processes share the
  // device), so it is read at every scrape rather than set once: `probe` fills used/total
  // bytes and returns false when it has no numbers (the CPU backend), in which case the
  // series stay as they were (absent when never set). The probe runs on the scraping
  // thread and must be thread-safe; pass nullptr to detach it before what it reads dies.
  using MemoryProbe = std::function<bool(double* used_bytes, double* total_bytes)>;
  void watch_device_memory(std::string device, MemoryProbe probe);

  // Scheduler snapshot (called by the engine loop each step).
  void set_load(int waiting, int running, int used_blocks, int free_blocks,
                int64_t prefill_tokens_waiting = 0);

 private:
  ClockFn now_;
  // Shared with the registry's collector, which may outlive this object when it was
  // registered on the process-wide registry.
  std::shared_ptr<metrics::RateWindow> rate_;
  struct MemoryWatch;
  std::shared_ptr<MemoryWatch> memory_watch_;  // shared with a collector, like rate_
};

}  // namespace turbine
