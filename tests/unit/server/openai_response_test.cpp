// Response shapes and usage accounting, without a server: usage counts each prompt once,
// streamed chunks carry "usage": null when include_usage is on, completions logprobs carry
// the caller's running text offset, and a failed choice cancels its siblings.
#include <gtest/gtest.h>

#include <thread>

#include "engine/server/openai_request.h"
#include "engine/server/openai_response.h"
#include "engine/server/pending_choice.h"
#include "tests/unit/server/tiny_tokenizer.h"

namespace turbine {
namespace {

using json = nlohmann::json;

TEST(SumUsage, CountsEachPromptOnceAndEveryCompletion) {
  struct Case {
    const char* name;
    std::vector<ChoiceUsage> choices;
    UsageCounts want;
  };
  const std::vector<Case> cases = {
      {"one choice", {{0, 10, 5, 0}}, {10, 5, 0}},
      {"n=3 of one prompt", {{0, 10, 5, 4}, {0, 10, 7, 8}, {0, 10, 2, 8}}, {10, 14, 4}},
      {"two prompts, n=2", {{0, 10, 1, 0}, {0, 10, 2, 0}, {1, 6, 3, 2}, {1, 6, 4, 6}}, {16, 10, 2}},
      {"two prompts of equal length still count twice", {{0, 8, 1, 0}, {1, 8, 1, 0}}, {16, 2, 0}},
      {"none", {}, {0, 0, 0}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    UsageCounts u = sum_usage(c.choices);
    EXPECT_EQ(u.prompt, c.want.prompt);
    EXPECT_EQ(u.completion, c.want.completion);
    EXPECT_EQ(u.cached, c.want.cached);
  }
}

TEST(BuildResponse, NChoicesCountThePromptOnce) {
  const Tokenizer& tok = tiny_tokenizer();
  ResponseContext rc{"cmpl-1", 0, "m", /*chat=*/false};
  std::vector<ChoiceResult> cs;
  for (int i = 0; i < 3; ++i) {
    FinishEvent f;
    f.reason = FinishReason::kLength;
    f.prompt_tokens = 12;
    f.completion_tokens = 4;
    cs.push_back({i, "abcd", {}, f, 12, /*prompt_index=*/0});
  }
  json r = build_response(rc, cs, tok);
  EXPECT_EQ(r["usage"]["prompt_tokens"], 12);
  EXPECT_EQ(r["usage"]["completion_tokens"], 12);
  EXPECT_EQ(r["usage"]["total_tokens"], 24);
  EXPECT_EQ(r["choices"].size(), 3u);
}

TEST(BuildResponse, EchoedTextShiftsTheLogprobOffsets) {
  const Tokenizer& tok = tiny_tokenizer();
  ResponseContext rc{"cmpl-1", 0, "m", /*chat=*/false, /*logprobs=*/true};
  std::vector<TokenEvent> ts(2);
  ts[0].token = tok.encode("a", false, false).at(0);
  ts[0].text = "a";
  ts[1].token = tok.encode("b", false, false).at(0);
  ts[1].text = "b";
  FinishEvent f;
  f.reason = FinishReason::kLength;
  json r = build_response(rc, {{0, "Hi: ab", ts, f, 2, 0, /*echo_bytes=*/4}}, tok);
  EXPECT_EQ(r["choices"][0]["text"], "Hi: ab");
  EXPECT_EQ(r["choices"][0]["logprobs"]["text_offset"], json::array({4, 5}));
}

TEST(StreamChunks, UsageIsNullInEveryChunkBeforeTheUsageChunk) {
  const Tokenizer& tok = tiny_tokenizer();
  for (bool chat : {true, false}) {
    SCOPED_TRACE(chat ? "chat" : "completions");
    ResponseContext rc{"id", 0, "m", chat};
    rc.stream_usage = true;
    TokenEvent t;
    t.token = 300;
    t.text = "x";
    FinishEvent f;
    f.reason = FinishReason::kStop;
    std::vector<json> chunks = {build_token_chunk(rc, 0, t, tok), build_finish_chunk(rc, 0, f)};
    if (chat)
      chunks.push_back(build_role_chunk(rc, 0));
    else
      chunks.push_back(build_text_chunk(rc, 0, "prompt"));
    for (const json& c : chunks) {
      ASSERT_TRUE(c.contains("usage")) << c.dump();
      EXPECT_TRUE(c["usage"].is_null()) << c.dump();
    }
    json u = build_usage_chunk(rc, 7, 3, 0);
    EXPECT_EQ(u["usage"]["prompt_tokens"], 7);
    EXPECT_EQ(u["choices"], json::array());
    // Without include_usage there is no usage key at all.
    rc.stream_usage = false;
    EXPECT_FALSE(build_token_chunk(rc, 0, t, tok).contains("usage"));
  }
}

TEST(StreamChunks, CompletionLogprobsCarryTheRunningTextOffset) {
  const Tokenizer& tok = tiny_tokenizer();
  ResponseContext rc{"id", 0, "m", /*chat=*/false, /*logprobs=*/true};
  TokenEvent t;
  t.token = tok.encode("c", false, false).at(0);
  t.text = "c";
  json c = build_token_chunk(rc, 0, t, tok, /*text_offset=*/17);
  EXPECT_EQ(c["choices"][0]["logprobs"]["text_offset"], json::array({17}));
  EXPECT_EQ(c["choices"][0]["text"], "c");
  json e = build_text_chunk(rc, 2, "The prompt");
  EXPECT_EQ(e["choices"][0]["index"], 2);
  EXPECT_EQ(e["choices"][0]["text"], "The prompt");
  EXPECT_TRUE(e["choices"][0]["finish_reason"].is_null());
}

TEST(PromptTokenLimit, UserCapIsInclusiveAndContextKeepsOneToken) {
  struct Case {
    int cap;
    int64_t ctx;
    int64_t want;
  };
  for (const Case& c : std::vector<Case>{{0, 8192, 8191},     // no cap: context less one
                                         {1500, 8192, 1500},  // a prompt of exactly N is fine
                                         {8192, 8192, 8191},  // the context still needs room
                                         {9000, 8192, 8191},
                                         {1, 100, 1}}) {
    EXPECT_EQ(prompt_token_limit(c.cap, c.ctx), c.want) << c.cap << " " << c.ctx;
  }
}

TEST(FinishRejection, QueueFullIsA429CountedAsQueueFullAndEverythingElseAnUncounted500) {
  FinishEvent f;
  f.reason = FinishReason::kError;
  f.error = "boom";
  Rejection r = finish_rejection(f);
  EXPECT_EQ(r.error.status, 500);
  EXPECT_NE(r.error.message.find("boom"), std::string::npos);
  EXPECT_FALSE(r.counted_as.has_value());
  f.queue_full = true;
  r = finish_rejection(f);
  EXPECT_EQ(r.error.status, 429);
  EXPECT_EQ(r.error.type, "rate_limit_error");
  EXPECT_EQ(r.counted_as, RejectReason::kQueueFull);
}

std::vector<PendingChoice> pending(int n) {
  std::vector<PendingChoice> cs(n);
  for (int i = 0; i < n; ++i) {
    cs[i].index = i;
    cs[i].ch = std::make_shared<RequestChannel>();
  }
  return cs;
}

TEST(CollectChoices, GathersTextAndFinishOfEveryChoice) {
  auto cs = pending(2);
  for (int i = 0; i < 2; ++i) {
    TokenEvent t;
    t.text = "t" + std::to_string(i);
    cs[i].ch->push_token(t);
    FinishEvent f;
    f.reason = FinishReason::kLength;
    f.text = "!";
    cs[i].ch->finish(f);
  }
  EXPECT_FALSE(collect_choices(cs).has_value());
  EXPECT_EQ(cs[0].text, "t0!");
  EXPECT_EQ(cs[1].text, "t1!");
  EXPECT_EQ(cs[1].tokens.size(), 1u);
  EXPECT_FALSE(cs[0].ch->cancelled());
}

TEST(CollectChoices, AFailedChoiceCancelsTheOthersAtOnce) {
  for (bool queue_full : {false, true}) {
    SCOPED_TRACE(queue_full ? "queue full" : "error");
    auto cs = pending(3);
    // Choice 0 is still generating (no finish will ever come unless cancelled); choice 2
    // fails. The failure must be seen without waiting for choice 0.
    TokenEvent t;
    t.text = "a";
    cs[0].ch->push_token(t);
    FinishEvent f;
    f.reason = FinishReason::kError;
    f.error = "the step failed";
    f.queue_full = queue_full;
    cs[2].ch->finish(f);
    auto err = collect_choices(cs, std::chrono::milliseconds(5));
    ASSERT_TRUE(err.has_value());
    EXPECT_EQ(err->error.status, queue_full ? 429 : 500);
    for (const auto& c : cs) EXPECT_TRUE(c.ch->cancelled()) << c.index;
  }
}

TEST(ParseCompletionRequest, EchoIsParsedAndRefusedWithLogprobs) {
  auto ok = parse_completion_request(R"({"model":"m","prompt":"hi","echo":true})");
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(ok));
  EXPECT_TRUE(std::get<ApiRequest>(ok).echo);
  for (const char* body : {R"({"model":"m","prompt":"hi","echo":true,"logprobs":2})",
                           R"({"model":"m","prompt":"hi","echo":true,"logprobs":true})"}) {
    auto bad = parse_completion_request(body);
    ASSERT_TRUE(std::holds_alternative<ApiError>(bad)) << body;
    const ApiError& e = std::get<ApiError>(bad);
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.message, "echo with logprobs is not supported");
    EXPECT_EQ(e.param, "echo");
  }
}

}  // namespace
}  // namespace turbine
