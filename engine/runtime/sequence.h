// One request's generation state as the scheduler sees it: token ids only (no text, no
// sampling parameters; those stay with the engine loop's request record).
//
// Progress is `num_computed`: how many leading tokens of prompt + generated have KV in the
// cache. The tokens still to compute are [num_computed, num_tokens()). After a prefill
// completes and a token is sampled, exactly one token is uncomputed: that is a decode.
// Preemption by recompute resets num_computed to 0 but keeps `generated`, so the re-prefill
// covers prompt + generated and the output continues where it stopped.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "engine/runtime/finish_reason.h"
#include "engine/runtime/kv_block_manager.h"

namespace turbine {

using SchedClock = std::chrono::steady_clock;

enum class SeqStatus {
  kWaiting,    // admitted, never scheduled
  kRunning,    // holds KV blocks; prefilling in chunks or decoding
  kPreempted,  // lost its blocks to an older sequence; waiting (at the front) to recompute
  kFinished,
};

struct Sequence {
  SeqId id = 0;
  std::vector<int32_t> prompt;
  std::vector<int32_t> generated;
  int max_tokens = 0;
  SeqStatus status = SeqStatus::kWaiting;
  SchedClock::time_point arrival{};
  std::optional<SchedClock::time_point> deadline;
  bool cancelled = false;  // set through Scheduler::cancel; acted on at the next step

  // Owned by the scheduler.
  uint64_t order = 0;  // admission order: the FCFS priority (lower is older)
  int num_computed = 0;
  // Past its prefill: the one uncomputed token is the last sample. Cleared by preemption,
  // after which the sequence prefills prompt + generated again.
  bool in_decode = false;
  int prompt_cached_tokens = 0;  // prompt tokens served by the prefix cache, first schedule
  int num_preemptions = 0;
  std::optional<SchedClock::time_point> first_scheduled;
  FinishReason finish_reason = FinishReason::kStop;  // set when status becomes kFinished

  int num_tokens() const { return static_cast<int>(prompt.size() + generated.size()); }
  int32_t token_at(int i) const {
    TURBINE_CHECK(i >= 0 && i < num_tokens());
    const int p = static_cast<int>(prompt.size());
    return i < p ? prompt[i] : generated[i - p];
  }
  std::vector<int32_t> all_tokens() const {
    std::vector<int32_t> t(prompt);
    t.insert(t.end(), generated.begin(), generated.end());
    return t;
  }
  int num_uncomputed() const { return num_tokens() - num_computed; }
};

}  // namespace turbine
