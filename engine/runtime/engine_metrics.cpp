#include "engine/runtime/engine_metrics.h"

namespace turbine {

struct EngineMetrics::MemoryWatch {
  std::mutex mu;
  std::string device;
  MemoryProbe probe;
};

namespace {

metrics::Gauge& blocks(metrics::Registry& r, std::string_view state) {
  return r
      .gauge_family("turbine_kv_cache_blocks",
                    "KV cache blocks by state: used (referenced by a sequence) or free "
                    "(never used, or holding reusable prefix-cache content).",
                    {"state"})
      .with({state});
}

}  // namespace

std::vector<double> EngineMetrics::latency_buckets() {
  return metrics::log_spaced_buckets(0.01, 60, 16);
}
std::vector<double> EngineMetrics::inter_token_buckets() {
  return metrics::log_spaced_buckets(0.001, 2, 16);
}
std::vector<double> EngineMetrics::compile_buckets() {
  return metrics::log_spaced_buckets(0.0001, 10, 16);
}
std::vector<double> EngineMetrics::queue_wait_buckets() {
  return metrics::log_spaced_buckets(0.001, 60, 18);
}

EngineMetrics::EngineMetrics(metrics::Registry& r, ClockFn now, Clock::duration rate_window)
    : requests_waiting(r.gauge("turbine_requests_waiting",
                               "Requests admitted and waiting to be scheduled (including "
                               "preempted ones).")),
      requests_running(
          r.gauge("turbine_requests_running", "Requests holding KV blocks and being computed.")),
      prefill_tokens_waiting(r.gauge(
          "turbine_prefill_tokens_waiting",
          "Tokens of live requests still to prefill: queued prompts, the rest of running "
          "prompts, prompt + generated again after a preemption.")),
      kv_cache_usage_ratio(r.gauge("turbine_kv_cache_usage_ratio",
                                   "Fraction of KV cache blocks referenced by sequences (0..1).")),
      kv_cache_blocks_free(blocks(r, "free")),
      kv_cache_blocks_used(blocks(r, "used")),
      device_memory_bytes(r.gauge_family("turbine_device_memory_bytes",
                                         "Device memory in bytes per device: total, and used (total less free, "
                                         "as the driver reports it, refreshed at every scrape).",
                                         {"device", "kind"})),
      generation_tokens_per_second(
          r.gauge("turbine_generation_tokens_per_second",
                  "Generated tokens per second over a short sliding window.")),
      build_info(r.gauge_family("turbine_build_info",
                                "Build and model information; the value is always 1.",
                                {"version", "backend", "model", "arch"})),
      prompt_tokens_total(
          r.counter("turbine_prompt_tokens_total",
                    "Prompt tokens of admitted requests, each request counted once (tokens "
                    "served from the prefix cache included, recomputation after preemption "
                    "not).")),
      generation_tokens_total(
          r.counter("turbine_generation_tokens_total", "Tokens generated (sampled).")),
      requests_total(r.counter_family("turbine_requests_total",
                                      "Finished requests by finish reason.", {"finish_reason"})),
      requests_rejected_total(r.counter_family(
          "turbine_requests_rejected_total",
          "Requests rejected at admission by reason (queue_full answers 429).", {"reason"})),
      preemptions_total(
          r.counter("turbine_preemptions_total",
                    "Sequences preempted (by recompute) because KV cache blocks ran out.")),
      prefix_cache_queries_total(r.counter("turbine_prefix_cache_queries_total",
                                           "Prompt tokens looked up in the prefix cache.")),
      prefix_cache_hits_total(
          r.counter("turbine_prefix_cache_hits_total",
                    "Prompt tokens found in the prefix cache (not recomputed).")),
      structured_requests_total(r.counter_family(
          "turbine_structured_requests_total",
          "Requests whose output is constrained, by kind: json_object, json_schema, grammar, "
          "tools (tool_choice required or a named function).",
          {"kind"})),
      time_to_first_token_seconds(r.histogram(
          "turbine_time_to_first_token_seconds",
          "Time from request arrival to its first generated token.", latency_buckets())),
      inter_token_latency_seconds(r.histogram(
          "turbine_inter_token_latency_seconds",
          "Time between consecutive generated tokens of one request.", inter_token_buckets())),
      request_duration_seconds(r.histogram(
          "turbine_request_duration_seconds",
          "Time from request arrival to its last token (end to end).", latency_buckets())),
      queue_wait_seconds(r.histogram("turbine_queue_wait_seconds",
                                     "Time from request arrival to its first scheduling.",
                                     queue_wait_buckets())),
      grammar_compile_seconds(r.histogram(
          "turbine_grammar_compile_seconds",
          "Time to compile a grammar or JSON schema that was not cached.", compile_buckets())),
      now_(now ? std::move(now) : ClockFn([] { return Clock::now(); })),
      rate_(std::make_shared<metrics::RateWindow>(rate_window, now_())),
      memory_watch_(std::make_shared<MemoryWatch>()) {
  for (FinishReason reason : kFinishReasons) requests_total.with({to_string(reason)});
  for (RejectReason reason : kRejectReasons) requests_rejected_total.with({to_string(reason)});
  for (const char* kind : {"json_object", "json_schema", "grammar", "tools"}) structured_requests_total.with({kind});
  r.add_collector([rate = rate_, gauge = &generation_tokens_per_second, clock = now_] {
    gauge->set(rate->rate(clock()));
  });
  r.add_collector([watch = memory_watch_, family = &device_memory_bytes] {
    std::lock_guard<std::mutex> l(watch->mu);
    double used = 0, total = 0;
    if (!watch->probe || !watch->probe(&used, &total)) return;
    family->with({watch->device, "used"}).set(used);
    family->with({watch->device, "total"}).set(total);
  });
}

void EngineMetrics::watch_device_memory(std::string device, MemoryProbe probe) {
  std::lock_guard<std::mutex> l(memory_watch_->mu);
  memory_watch_->device = std::move(device);
  memory_watch_->probe = std::move(probe);
}

void EngineMetrics::record_generated_tokens(int64_t n) {
  generation_tokens_total.inc(static_cast<double>(n));
  rate_->add(n, now_());
}

double EngineMetrics::tokens_per_second() {
  double r = rate_->rate(now_());
  generation_tokens_per_second.set(r);
  return r;
}

void EngineMetrics::set_build_info(std::string_view version, std::string_view backend,
                                   std::string_view model, std::string_view arch) {
  build_info.with({version, backend, model, arch}).set(1);
}

void EngineMetrics::set_device_memory(std::string_view device, double used_bytes,
                                      double total_bytes) {
  device_memory_bytes.with({device, "used"}).set(used_bytes);
  device_memory_bytes.with({device, "total"}).set(total_bytes);
}

void EngineMetrics::set_load(int waiting, int running, int used_blocks, int free_blocks,
                             int64_t prefill_tokens) {
  requests_waiting.set(waiting);
  prefill_tokens_waiting.set(static_cast<double>(prefill_tokens));
  requests_running.set(running);
  kv_cache_blocks_used.set(used_blocks);
  kv_cache_blocks_free.set(free_blocks);
  const int total = used_blocks + free_blocks;
  kv_cache_usage_ratio.set(total > 0 ? static_cast<double>(used_blocks) / total : 0.0);
}

}  // namespace turbine
