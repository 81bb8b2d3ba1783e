#include "engine/runtime/admission.h"

#include <algorithm>

namespace turbine {

int64_t max_sequence_tokens(const AdmissionLimits& lim) {
  return lim.max_model_len > 0 ? std::min<int64_t>(lim.pool_tokens, lim.max_model_len)
                               : lim.pool_tokens;
}

std::optional<AdmitError> check_admission(int64_t prompt_tokens, int max_tokens, int live,
                                          const AdmissionLimits& lim) {
  if (prompt_tokens <= 0) return AdmitError{RejectReason::kInvalid, "the prompt is empty"};
  if (max_tokens < 1) return AdmitError{RejectReason::kInvalid, "max_tokens must be at least 1"};
  const int64_t need = prompt_tokens + max_tokens;
  const std::string asked = std::to_string(need) + " tokens (" + std::to_string(prompt_tokens) +
                            " in the prompt, " + std::to_string(max_tokens) +
                            " for the completion)";
  if (lim.max_model_len > 0 && need > lim.max_model_len)
    return AdmitError{RejectReason::kTooLong,
                      "this model's maximum context length is " +
                          std::to_string(lim.max_model_len) + " tokens, but " + asked +
                          " were requested; shorten the prompt or lower max_tokens"};
  if (need > lim.pool_tokens)
    return AdmitError{RejectReason::kTooLong, "the request needs " + asked +
                                                  " of KV cache but the whole cache holds " +
                                                  std::to_string(lim.pool_tokens) +
                                                  "; shorten the prompt or lower max_tokens"};
  const int queued = queued_requests(live, lim.max_running);
  if (queued >= lim.max_queue)
    return AdmitError{RejectReason::kQueueFull,
                      "the server is busy: " + std::to_string(std::max(queued, 0)) +
                          " requests are already queued; retry later"};
  return std::nullopt;
}

}  // namespace turbine
