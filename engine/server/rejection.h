// A request turned away, and the one place that records it: the error the client gets and,
// for those that count, the reason label of turbine_requests_rejected_total. Every error
// answer of a generation request goes through here, so the metric and the responses agree.
#pragma once
#include <optional>

#include "base/http/message.h"
#include "engine/runtime/admission.h"
#include "engine/server/api_error.h"

namespace turbine {

class EngineMetrics;

struct Rejection {
  ApiError error;
  // The label it is counted under; nullopt for answers that are not admission decisions
  // (a bad API key, a failure inside the engine).
  std::optional<RejectReason> counted_as;
};

// Counts `r` (when it counts).
void record(const Rejection& r, EngineMetrics* metrics);
// Counts `r` and builds its response.
http::Response reject(const Rejection& r, EngineMetrics* metrics);

// The response for an API error: its status, OpenAI's JSON body, Retry-After on a 429.
http::Response error_response(const ApiError& e);

// A rejection for an admission error from the engine (queue full, too long, draining...).
Rejection rejection_of(const AdmitError& e);

}  // namespace turbine
