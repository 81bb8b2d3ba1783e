// Admission control: what is turned away before it reaches the engine loop, and why. One
// check, shared by Engine::submit (on the HTTP thread, so a client learns at once) and
// Scheduler::admit (the loop's own guard), so the two cannot drift apart.
//
// Rejected at once is what can never run: an empty prompt, max_tokens < 1, a prompt plus
// max_tokens beyond the model's context or beyond the whole KV pool. "Queue full" is
// answered when max_queue requests are already queued beyond the running slots
// (queued_requests): capacity is max_running + max_queue, so a burst that arrives while
// running slots are idle is not turned away before the next step fills them.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turbine {

// Why a request was turned away: turbine_requests_rejected_total{reason} (to_string).
enum class RejectReason {
  kInvalid,    // malformed or meaningless (HTTP 400)
  kTooLong,    // can never fit the context or the KV pool (HTTP 400/413)
  kQueueFull,  // try again later (HTTP 429)
  kDraining,   // the server is shutting down (HTTP 503)
};

inline constexpr RejectReason kRejectReasons[] = {RejectReason::kQueueFull, RejectReason::kTooLong,
                                                  RejectReason::kInvalid, RejectReason::kDraining};

constexpr std::string_view to_string(RejectReason r) {
  switch (r) {
    case RejectReason::kInvalid:
      return "invalid";
    case RejectReason::kTooLong:
      return "too_long";
    case RejectReason::kQueueFull:
      return "queue_full";
    case RejectReason::kDraining:
      return "draining";
  }
  return "invalid";
}

struct AdmitError {
  RejectReason reason;
  std::string message;  // for the API user
};

struct AdmissionLimits {
  int max_model_len = 0;    // prompt + max_tokens limit of the model (0: only the pool bounds it)
  int64_t pool_tokens = 0;  // the whole KV pool, in tokens
  int max_running = 64;     // sequences holding KV blocks at once
  int max_queue = 256;      // queued sequences beyond max_running before queue full
};

// The most tokens (prompt + max_tokens) one request can ever be given.
int64_t max_sequence_tokens(const AdmissionLimits& lim);

// Requests that count against max_queue: those admitted and not finished (`live`: waiting,
// preempted, running, and for the engine also those not yet handed to the scheduler) less
// the running slots, busy or free; negative while running slots are free. Equal to
// `not_running - (max_running - running)` whenever running <= max_running, without needing
// a consistent snapshot of both counts. A new request is admitted while this is below
// max_queue, so capacity is max_running + max_queue (and max_queue 0 means no queue).
inline int queued_requests(int live, int max_running) {
  return live - max_running;
}

// nullopt: admit. `live` as for queued_requests. A request that can never fit is refused
// as such even when the queue is also full (retrying would not help).
std::optional<AdmitError> check_admission(int64_t prompt_tokens, int max_tokens, int live,
                                          const AdmissionLimits& lim);

}  // namespace turbine
