// The one admission check Engine::submit and Scheduler::admit share (runtime/admission.h).
#include <gtest/gtest.h>

#include "engine/runtime/admission.h"

namespace turbine {
namespace {

TEST(CheckAdmission, Table) {
  // Context 100, pool 64 tokens, 2 running slots, queue of 3: capacity 5 live requests.
  const AdmissionLimits lim{
      .max_model_len = 100, .pool_tokens = 64, .max_running = 2, .max_queue = 3};
  struct Case {
    const char* name;
    int64_t prompt;
    int max_tokens;
    int live;
    std::optional<RejectReason> want;
    const char* message_part;
  };
  const Case cases[] = {
      {"fits", 10, 10, 0, std::nullopt, ""},
      {"fits exactly the pool", 60, 4, 4, std::nullopt, ""},
      {"empty prompt", 0, 5, 0, RejectReason::kInvalid, "prompt is empty"},
      {"no tokens to generate", 5, 0, 0, RejectReason::kInvalid, "max_tokens"},
      {"beyond the model's context", 90, 20, 0, RejectReason::kTooLong,
       "maximum context length is 100"},
      {"beyond the pool", 60, 5, 0, RejectReason::kTooLong, "whole cache holds 64"},
      {"queue full at capacity", 4, 4, 5, RejectReason::kQueueFull,
       "3 requests are already queued"},
      {"idle slots count as room", 4, 4, 4, std::nullopt, ""},
      {"never fits wins over queue full", 90, 20, 5, RejectReason::kTooLong, "context length"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto err = check_admission(c.prompt, c.max_tokens, c.live, lim);
    ASSERT_EQ(err.has_value(), c.want.has_value()) << (err ? err->message : "");
    if (!err) continue;
    EXPECT_EQ(err->reason, *c.want);
    EXPECT_NE(err->message.find(c.message_part), std::string::npos) << err->message;
  }
}

TEST(CheckAdmission, ReasonsAreTheMetricLabels) {
  EXPECT_EQ(to_string(RejectReason::kQueueFull), "queue_full");
  EXPECT_EQ(to_string(RejectReason::kTooLong), "too_long");
  EXPECT_EQ(to_string(RejectReason::kInvalid), "invalid");
  EXPECT_EQ(to_string(RejectReason::kDraining), "draining");
  EXPECT_EQ(max_sequence_tokens({.max_model_len = 100, .pool_tokens = 64}), 64);
  EXPECT_EQ(max_sequence_tokens({.max_model_len = 0, .pool_tokens = 64}), 64);
  EXPECT_EQ(max_sequence_tokens({.max_model_len = 32, .pool_tokens = 64}), 32);
}

}  // namespace
}  // namespace turbine
