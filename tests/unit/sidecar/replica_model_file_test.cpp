// Replica model files: the committed presets load, and every kind of bad file is an error
// that names what is wrong (a typo must never leave a default in place silently).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sidecar/replica_model_file.h"

namespace turbine::autoscaler {
namespace {

const char* kGood = R"({"name": "x", "basis": "assumed", "max_batch": 16, "kv_tokens": 9000,
  "prefill_chunk": 256, "step_fixed_s": 0.01, "step_per_seq_s": 0.001,
  "prefill_per_token_s": 0.0002, "startup_s": 30, "notes": {"max_batch": "why"}})";

TEST(ReplicaModelFile, ParsesEveryField) {
  auto r = parse_replica_model(kGood);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->name, "x");
  EXPECT_EQ(r->basis, "assumed");
  EXPECT_EQ(r->model.max_batch, 16);
  EXPECT_EQ(r->model.kv_tokens, 9000);
  EXPECT_EQ(r->model.prefill_chunk, 256);
  EXPECT_DOUBLE_EQ(r->model.step_fixed_s, 0.01);
  EXPECT_DOUBLE_EQ(r->model.step_per_seq_s, 0.001);
  EXPECT_DOUBLE_EQ(r->model.prefill_per_token_s, 0.0002);
  EXPECT_DOUBLE_EQ(r->model.startup_s, 30);
  EXPECT_DOUBLE_EQ(r->model.prefill_attention_s, 0);  // optional, absent
  EXPECT_DOUBLE_EQ(r->model.decode_attention_s, 0);
}

TEST(ReplicaModelFile, ParsesTheAttentionTerms) {
  std::string s = kGood;
  s.replace(s.find("\"startup_s\""), 0,
            "\"prefill_attention_s\": 5e-7, \"decode_attention_s\": 2e-7, ");
  auto r = parse_replica_model(s);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_DOUBLE_EQ(r->model.prefill_attention_s, 5e-7);
  EXPECT_DOUBLE_EQ(r->model.decode_attention_s, 2e-7);
  s.replace(s.find("5e-7"), 4, "-1");
  auto bad = parse_replica_model(s);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("'prefill_attention_s' must be >= 0"), std::string::npos) << bad.error();
}

TEST(ReplicaModelFile, BadFilesNameTheProblem) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string s = kGood;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  struct Case {
    std::string text;
    const char* message;
  } cases[] = {
      {"{", "not JSON"},
      {"[1]", "expected a JSON object"},
      {with("\"max_batch\"", "\"max_bacth\""), "unknown key 'max_bacth'"},
      {with("\"startup_s\": 30, ", ""), "missing 'startup_s'"},
      {with("16", "-16"), "'max_batch' must be >= 1"},
      {with("16", "16.5"), "'max_batch' must be an integer"},
      {with("0.01", "0"), "'step_fixed_s' must be > 0"},
      {with("0.0002", "\"fast\""), "'prefill_per_token_s' must be a number"},
      {with("\"name\": \"x\"", "\"name\": \"\""), "'name' must be a non-empty string"},
      {with("{\"max_batch\": \"why\"}", "[]"), "'notes' must be an object"},
  };
  for (const Case& c : cases) {
    auto r = parse_replica_model(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().find(c.message), std::string::npos) << r.error();
  }
  auto absent = load_replica_model("/nonexistent/model.json");
  ASSERT_FALSE(absent.ok());
  EXPECT_NE(absent.error().find("/nonexistent/model.json"), std::string::npos);
}

TEST(ReplicaModelFile, CommittedPresetsLoad) {
  for (const char* name : {"cpu-smollm2-135m", "h100-llama3-8b", "l4-llama3-8b"}) {
    auto r = load_replica_model(std::string(TURBINE_SOURCE_DIR) + "/bench/replica-models/" +
                                name + ".json");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->name, name);
    EXPECT_FALSE(r->basis.empty());
  }
}

}  // namespace
}  // namespace turbine::autoscaler
