// Why a request ended, as the runtime knows it. Strings only at the edges: the metrics label
// (to_string) and the OpenAI finish_reason (server/openai_response.h, which maps timeout
// and cancelled to values clients understand).
#pragma once
#include <string_view>

namespace turbine {

enum class FinishReason {
  kStop,       // an end-of-generation token, a stop token id or a stop string
  kLength,     // max_tokens or the context limit
  kTimeout,    // the request deadline (--request-timeout)
  kCancelled,  // the client went away
  kError,      // the engine failed the request (FinishEvent::error says why)
};

inline constexpr FinishReason kFinishReasons[] = {FinishReason::kStop, FinishReason::kLength,
                                                  FinishReason::kTimeout, FinishReason::kCancelled,
                                                  FinishReason::kError};

// "stop", "length", "timeout", "cancelled", "error": turbine_requests_total{finish_reason}.
constexpr std::string_view to_string(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kTimeout:
      return "timeout";
    case FinishReason::kCancelled:
      return "cancelled";
    case FinishReason::kError:
      return "error";
  }
  return "error";
}

}  // namespace turbine
