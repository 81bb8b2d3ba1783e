// Streaming choices as SSE without a server: what goes out in which order, and that a
// client that leaves or a choice that fails releases every other choice at once.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/metrics/registry.h"
#include "engine/runtime/engine_metrics.h"
#include "engine/server/choice_stream.h"
#include "engine/server/sse_writer.h"
#include "tests/unit/server/tiny_tokenizer.h"

namespace turbine {
namespace {

using json = nlohmann::json;

// Records what is written; fails every write after `fail_after` of them.
class RecordingSink : public http::StreamSink {
 public:
  explicit RecordingSink(int fail_after = 1 << 30) : fail_after_(fail_after) {}
  bool write(std::string_view data) override {
    if (static_cast<int>(writes.size()) >= fail_after_) return false;
    writes.emplace_back(data);
    return true;
  }
  bool client_gone() override { return static_cast<int>(writes.size()) >= fail_after_; }
  // The payloads of the `data: ...` events.
  std::vector<std::string> payloads() const {
    std::vector<std::string> out;
    for (const auto& w : writes) {
      EXPECT_EQ(w.rfind("data: ", 0), 0u) << w;
      EXPECT_EQ(w.substr(w.size() - 2), "\n\n") << w;
      out.push_back(w.substr(6, w.size() - 8));
    }
    return out;
  }
  std::vector<std::string> writes;

 private:
  int fail_after_;
};

std::vector<PendingChoice> pending(int n) {
  std::vector<PendingChoice> cs(n);
  for (int i = 0; i < n; ++i) {
    cs[i].index = i;
    cs[i].ch = std::make_shared<RequestChannel>();
    cs[i].prompt_tokens = 3;
  }
  return cs;
}

void push(RequestChannel& ch, const std::vector<std::string>& texts, FinishReason reason) {
  for (const auto& t : texts) {
    TokenEvent e;
    e.token = 1;
    e.text = t;
    ch.push_token(e);
  }
  FinishEvent f;
  f.reason = reason;
  f.completion_tokens = static_cast<int>(texts.size());
  ch.finish(f);
}

StreamRequest chat_stream(bool usage) {
  StreamRequest r;
  r.rc.id = "chatcmpl-x";
  r.rc.model = "m";
  r.rc.chat = true;
  r.rc.stream_usage = usage;
  r.include_usage = usage;
  return r;
}

TEST(SseWriter, FramesEachPayloadAsOneEvent) {
  RecordingSink sink;
  SseWriter sse(sink);
  EXPECT_TRUE(sse.event("{\"a\":1}"));
  EXPECT_TRUE(sse.done());
  ASSERT_EQ(sink.writes.size(), 2u);
  EXPECT_EQ(sink.writes[0], "data: {\"a\":1}\n\n");
  EXPECT_EQ(sink.writes[1], "data: [DONE]\n\n");
  RecordingSink gone(0);
  SseWriter dead(gone);
  EXPECT_FALSE(dead.event("x"));
  EXPECT_TRUE(dead.client_gone());
  EXPECT_FALSE(dead.done());
}

TEST(StreamChoices, RolesThenTokensThenFinishesThenUsageThenDone) {
  auto cs = pending(2);
  push(*cs[0].ch, {"Hel", "lo"}, FinishReason::kStop);
  push(*cs[1].ch, {"Hi"}, FinishReason::kLength);
  RecordingSink sink;
  SseWriter sse(sink);
  stream_choices(cs, chat_stream(/*usage=*/true), tiny_tokenizer(), sse, nullptr);
  const auto p = sink.payloads();
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p.back(), "[DONE]");
  std::vector<json> ev;
  for (size_t i = 0; i + 1 < p.size(); ++i) ev.push_back(json::parse(p[i]));
  // Two role chunks first, in choice order.
  ASSERT_GE(ev.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(ev[i]["choices"][0]["index"], i);
    EXPECT_EQ(ev[i]["choices"][0]["delta"]["role"], "assistant");
  }
  // Each choice's text in order, then its finish reason.
  std::string text[2];
  std::string finish[2];
  for (size_t i = 2; i + 1 < ev.size(); ++i) {
    const json& c = ev[i]["choices"][0];
    const int k = c["index"];
    EXPECT_TRUE(finish[k].empty()) << "a token after choice " << k << " finished";
    if (c["delta"].contains("content")) text[k] += c["delta"]["content"].get<std::string>();
    if (!c["finish_reason"].is_null()) finish[k] = c["finish_reason"];
    EXPECT_TRUE(ev[i]["usage"].is_null());
  }
  EXPECT_EQ(text[0], "Hello");
  EXPECT_EQ(text[1], "Hi");
  EXPECT_EQ(finish[0], "stop");
  EXPECT_EQ(finish[1], "length");
  const json& usage = ev.back()["usage"];
  EXPECT_EQ(usage["prompt_tokens"], 3);  // n=2 of one prompt: counted once
  EXPECT_EQ(usage["completion_tokens"], 3);
  EXPECT_TRUE(ev.back()["choices"].empty());
}

TEST(StreamChoices, AClientThatLeavesCancelsEveryChoice) {
  // Choice 0 never finishes unless cancelled; the client is gone after the role chunks.
  auto cs = pending(2);
  TokenEvent t;
  t.text = "a";
  cs[0].ch->push_token(t);
  RecordingSink sink(/*fail_after=*/2);
  SseWriter sse(sink);
  stream_choices(cs, chat_stream(false), tiny_tokenizer(), sse, nullptr);  // returns at all
  for (const auto& c : cs) EXPECT_TRUE(c.ch->cancelled()) << c.index;
}

TEST(StreamChoices, AFailedChoiceEndsTheStreamWithAnErrorAndIsCountedOnce) {
  metrics::Registry reg;
  EngineMetrics m(reg);
  auto cs = pending(2);  // choice 0 runs on; choice 1 finds the queue full
  FinishEvent f;
  f.reason = FinishReason::kError;
  f.queue_full = true;
  cs[1].ch->finish(f);
  RecordingSink sink;
  SseWriter sse(sink);
  stream_choices(cs, chat_stream(false), tiny_tokenizer(), sse, &m);
  const auto p = sink.payloads();
  ASSERT_GE(p.size(), 2u);
  EXPECT_EQ(p.back(), "[DONE]");
  const json err = json::parse(p[p.size() - 2]);
  EXPECT_EQ(err["error"]["code"], "queue_full");
  EXPECT_TRUE(cs[0].ch->cancelled());
  EXPECT_EQ(m.requests_rejected_total.with({"queue_full"}).value(), 1);
}

TEST(CollectChoices, AClientThatLeavesCancelsEveryChoice) {
  auto cs = pending(2);
  push(*cs[1].ch, {"x"}, FinishReason::kStop);  // done; choice 0 would run forever
  int polls = 0;
  auto rej = collect_choices(cs, std::chrono::milliseconds(1), [&] { return ++polls >= 3; });
  ASSERT_TRUE(rej.has_value());
  EXPECT_EQ(rej->error.status, 499);
  EXPECT_FALSE(rej->counted_as.has_value());
  EXPECT_TRUE(cs[0].ch->cancelled());
  EXPECT_FALSE(cs[1].ch->cancelled());  // it had finished
  EXPECT_GE(polls, 3);
}

}  // namespace
}  // namespace turbine
