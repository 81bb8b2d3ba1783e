// The simulated replica's iteration time: the time to a first token and the decode steps
// follow the model's coefficients exactly, the attention terms grow with the context, and
// chunking a prompt does not change what its attention costs.
#include <gtest/gtest.h>

#include "sidecar/sim_replica.h"

namespace turbine::autoscaler {
namespace {

ReplicaModel model(int chunk, double prefill_attn, double decode_attn) {
  ReplicaModel m;
  m.max_batch = 8;
  m.kv_tokens = 100000;
  m.prefill_chunk = chunk;
  m.step_fixed_s = 0.010;
  m.step_per_seq_s = 0.002;
  m.prefill_per_token_s = 0.0001;
  m.prefill_attention_s = prefill_attn;
  m.decode_attention_s = decode_attn;
  m.startup_s = 0;
  return m;
}

// One request alone on a replica: (first token time, done time).
std::pair<double, double> run_one(const ReplicaModel& m, int prompt, int output) {
  SimReplica r(m, 0);
  SimRequest q;
  q.prompt = prompt;
  q.output = output;
  r.enqueue(&q);
  r.advance_to(1000);
  return {q.first_token, q.done};
}

TEST(SimReplica, FirstTokenAndDecodeFollowTheCoefficients) {
  struct Case {
    int chunk, prompt, output;
    double prefill_attn, decode_attn;
    double first, done;
  } cases[] = {
      // One chunk: fixed + n × per-token.
      {4096, 1000, 1, 0, 0, 0.010 + 0.1, 0.110},
      // Two chunks pay the fixed cost twice.
      {512, 1024, 1, 0, 0, 2 * 0.010 + 0.1024, 0.1224},
      // Attention: n²/2 pairs, whichever the chunking.
      {4096, 1024, 1, 1e-7, 0, 0.010 + 0.1024 + 1e-7 * 1024 * 1024 / 2, 0.1648288},
      {512, 1024, 1, 1e-7, 0, 0.020 + 0.1024 + 1e-7 * 1024 * 1024 / 2, 0.1748288},
      // Decode: two more steps over 1001 then 1002 tokens of context.
      {4096, 1000, 3, 0, 1e-6, 0.110, 0.110 + 2 * 0.012 + 1e-6 * (1001 + 1002)},
  };
  for (const Case& c : cases) {
    auto [first, done] = run_one(model(c.chunk, c.prefill_attn, c.decode_attn), c.prompt, c.output);
    EXPECT_NEAR(first, c.first, 1e-9) << c.chunk << " " << c.prompt;
    EXPECT_NEAR(done, c.done, 1e-9) << c.chunk << " " << c.prompt;
  }
}

TEST(SimReplica, LongPromptsCostMoreThanTheirLengthWithAttention) {
  const ReplicaModel m = model(512, 5e-7, 0);
  const double short_first = run_one(m, 256, 1).first;
  const double long_first = run_one(m, 2048, 1).first;
  EXPECT_GT(long_first, 8 * short_first);  // superlinear
  const ReplicaModel linear = model(512, 0, 0);
  EXPECT_LT(run_one(linear, 2048, 1).first, 8 * run_one(linear, 256, 1).first);
}

}  // namespace
}  // namespace turbine::autoscaler
