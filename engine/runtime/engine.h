// The engine loop: one thread owns the scheduler, the KV cache and the model. HTTP threads
// submit requests through a thread-safe queue and read tokens from per-request channels;
// they never touch the loop's state. Each step: admit new requests, let the scheduler pick
// a batch (decodes first, then chunked prefills), run the model once, sample per sequence,
// push tokens, free what finished or was cancelled.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "engine/grammar/token_automaton.h"
#include "engine/model/llama_model.h"
#include "engine/runtime/admission.h"
#include "engine/runtime/request_channel.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class EngineMetrics;

struct EngineConfig {
  int num_blocks = 0;           // KV pool size in blocks (0: from kv_cache_bytes)
  size_t kv_cache_bytes = 0;    // used when num_blocks == 0
  int block_size = 16;
  int max_batch_tokens = 512;   // tokens per step (decodes + prefill chunks)
  int max_running = 64;         // sequences decoding at once
  int max_queue = 256;          // waiting requests before 429
  std::chrono::milliseconds request_timeout{0};  // 0: none
  bool prefix_caching = true;
};

struct GenerationSpec {
  std::vector<int32_t> prompt;
  int max_tokens = 16;
  SamplingParams sampling;
  int top_logprobs = 0;
  bool logprobs = false;
  // Set: every token is drawn from those the grammar allows (sampler.h's mask), and the
  // sequence stops when the grammar is complete.
  std::shared_ptr<grammar::TokenAutomaton> grammar;
};

struct LoadSnapshot {
  int waiting = 0;
  int running = 0;
  double kv_usage = 0;
  int free_blocks = 0;
  int total_blocks = 0;
  int block_size = 0;
  int64_t headroom_tokens = 0;  // tokens that could still be admitted (free blocks x size)
};

class Engine {
 public:
  Engine(LlamaModel& model, const Tokenizer& tokenizer, EngineConfig cfg,
         EngineMetrics* metrics = nullptr);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. On success the channel receives the tokens and then one finish event. The
  // admission check is the scheduler's own (admission.h), so a request submit() admits is
  // one the loop will take; kDraining once the engine is stopping.
  std::variant<std::shared_ptr<RequestChannel>, AdmitError> submit(GenerationSpec spec);

  LoadSnapshot load() const;
  // The loop's last turn (for /health: the loop is alive when it turned recently or is idle
  // waiting for work).
  bool alive(std::chrono::milliseconds max_stall) const;
  int64_t max_context_tokens() const;  // the most tokens one request can ever hold
  const EngineConfig& config() const { return cfg_; }
  void stop();
  // Requests still queued or running.
  int in_flight() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  EngineConfig cfg_;
};

}  // namespace turbine
