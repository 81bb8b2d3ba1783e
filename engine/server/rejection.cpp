#include "engine/server/rejection.h"

#include "engine/runtime/engine_metrics.h"

namespace turbine {

void record(const Rejection& r, EngineMetrics* metrics) {
  if (metrics && r.counted_as) metrics->count_rejected(*r.counted_as);
}

http::Response reject(const Rejection& r, EngineMetrics* metrics) {
  record(r, metrics);
  return error_response(r.error);
}

http::Response error_response(const ApiError& e) {
  http::Response res = http::Response::text(e.status, e.to_json(), "application/json");
  if (e.status == 429) res.headers.set("Retry-After", "1");
  return res;
}

Rejection rejection_of(const AdmitError& e) {
  switch (e.reason) {
    case RejectReason::kQueueFull:
      return {ApiError::queue_full(), e.reason};
    case RejectReason::kDraining:
      return {ApiError::unavailable(e.message), e.reason};
    case RejectReason::kTooLong:
      return {ApiError::invalid(e.message, "max_tokens"), e.reason};
    case RejectReason::kInvalid:
      break;
  }
  return {ApiError::invalid(e.message), RejectReason::kInvalid};
}

}  // namespace turbine
