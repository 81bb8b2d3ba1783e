#include <gtest/gtest.h>

#include "engine/server/api_keys.h"
#include "engine/server/openai_request.h"

namespace turbine {
namespace {

struct BadCase {
  const char* body;
  const char* param;   // expected "param" of the error ("" = none)
  const char* needle;  // substring of the message
};

TEST(ParseChatRequest, RejectsBadBodiesWithOpenAiErrors) {
  const std::vector<BadCase> cases = {
      {"{not json", "", "not valid JSON"},
      {"[1,2]", "", "must be a JSON object"},
      {R"({"messages":[{"role":"user","content":"hi"}]})", "model", "'model' is required"},
      {R"({"model":"m"})", "messages", "'messages' is required"},
      {R"({"model":"m","messages":[]})", "messages", "non-empty"},
      {R"({"model":"m","messages":[{"content":"x"}]})", "messages", "'role'"},
      {R"({"model":"m","messages":[{"role":"wizard","content":"x"}]})", "messages", "unknown message role"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image_url"}]}]})", "messages", "only text"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3})", "temperature", "between 0 and 2"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"})", "temperature", "must be a number"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_p":0})", "top_p", "greater than 0"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":0})", "n", "between 1 and 16"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"n":1.5})", "n", "integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0})", "max_tokens", "between 1"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]})", "stop", "string"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]})", "stop", "at most 4"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}})", "stream_options", "only allowed when"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"top_logprobs":3})", "top_logprobs", "requires 'logprobs'"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", "top_logprobs", "between 0 and 20"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"logit_bias":{"abc":1}})", "logit_bias", "token ids"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"seed":"x"})", "seed", "integer"},
      {R"({"model":"m","messages":[{"role":"user","content":"x"}],"presence_penalty":-2.5})", "presence_penalty", "between -2 and 2"},
  };
  for (const auto& c : cases) {
    auto r = parse_chat_request(c.body);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << c.body;
    const ApiError& e = std::get<ApiError>(r);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_NE(e.message.find(c.needle), std::string::npos) << c.body << " -> " << e.message;
    if (*c.param) {
      ASSERT_TRUE(e.param.has_value()) << c.body;
      EXPECT_EQ(*e.param, c.param) << c.body;
    }
    // The JSON shape is OpenAI's.
    EXPECT_NE(e.to_json().find("\"error\":{"), std::string::npos);
  }
}

TEST(ParseChatRequest, ReadsEveryField) {
  auto r = parse_chat_request(R"({
    "model":"smol","messages":[{"role":"system","content":"be brief"},
      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
    "max_completion_tokens":7,"n":2,"stream":true,"stream_options":{"include_usage":true},
    "temperature":0.5,"top_p":0.9,"top_k":40,"min_p":0.05,"presence_penalty":0.5,
    "frequency_penalty":-0.5,"seed":42,"stop":"END","logprobs":true,"top_logprobs":3,
    "logit_bias":{"17":-100}})");
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(r)) << std::get<ApiError>(r).message;
  const ApiRequest& q = std::get<ApiRequest>(r);
  EXPECT_EQ(q.model, "smol");
  ASSERT_EQ(q.messages.size(), 2u);
  EXPECT_EQ(q.messages[1].content, "ab");
  EXPECT_EQ(q.max_tokens, 7);
  EXPECT_EQ(q.n, 2);
  EXPECT_TRUE(q.stream && q.include_usage && q.logprobs);
  EXPECT_EQ(q.top_logprobs, 3);
  EXPECT_FLOAT_EQ(q.sampling.temperature, 0.5f);
  EXPECT_EQ(q.sampling.top_k, 40);
  EXPECT_EQ(q.sampling.seed, 42u);
  EXPECT_EQ(q.sampling.stop, std::vector<std::string>{"END"});
  EXPECT_FLOAT_EQ(q.sampling.logit_bias.at(17), -100.f);
}

TEST(ParseCompletionRequest, PromptShapes) {
  auto one = parse_completion_request(R"({"model":"m","prompt":"hello"})");
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(one));
  EXPECT_EQ(std::get<std::string>(std::get<ApiRequest>(one).prompts[0]), "hello");
  auto ids = parse_completion_request(R"({"model":"m","prompt":[1,2,3]})");
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(ids));
  EXPECT_EQ(std::get<std::vector<int32_t>>(std::get<ApiRequest>(ids).prompts[0]).size(), 3u);
  auto many = parse_completion_request(R"({"model":"m","prompt":["a","b"],"logprobs":2})");
  ASSERT_TRUE(std::holds_alternative<ApiRequest>(many));
  EXPECT_EQ(std::get<ApiRequest>(many).prompts.size(), 2u);
  EXPECT_EQ(std::get<ApiRequest>(many).top_logprobs, 2);
  for (const char* bad : {R"({"model":"m"})", R"({"model":"m","prompt":5})",
                          R"({"model":"m","prompt":[1,"a"]})", R"({"model":"m","prompt":[-1]})",
                          R"({"model":"m","prompt":"x","logprobs":6})"}) {
    auto r = parse_completion_request(bad);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << bad;
    EXPECT_EQ(std::get<ApiError>(r).status, 400);
  }
}

TEST(ApiKeys, BearerKeysAreCheckedExactly) {
  ApiKeys none;
  EXPECT_TRUE(none.authorize(""));
  ApiKeys k = ApiKeys::from_list(" alpha, beta ,,");
  EXPECT_TRUE(k.enabled());
  EXPECT_TRUE(k.authorize("Bearer alpha"));
  EXPECT_TRUE(k.authorize("Bearer beta"));
  for (const char* bad : {"", "Bearer", "Bearer ", "alpha", "Bearer alph", "Bearer alphaa",
                          "bearer alpha", "Bearer gamma", "Basic YWxwaGE="})
    EXPECT_FALSE(k.authorize(bad)) << bad;
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("", "a"));
}

}  // namespace
}  // namespace turbine
