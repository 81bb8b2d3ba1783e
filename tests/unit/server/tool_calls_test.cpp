// Tool calls: parsing the Hermes form back (unknown names and broken JSON stay text), the
// streaming splitter's hold-back, the call grammar, and rendering a turn back.
#include <gtest/gtest.h>

#include "engine/grammar/grammar_parser.h"
#include "engine/grammar/token_automaton.h"
#include "engine/server/tool_calls.h"
#include "tests/unit/grammar/byte_vocab.h"

namespace turbine {
namespace {

std::vector<ApiTool> tools() {
  return {{"get_weather", nlohmann::ordered_json::parse(
                              R"({"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}})")},
          {"ping", nlohmann::ordered_json::parse(R"({"name": "ping"})")}};
}

TEST(ToolCalls, ParsesCallsAndKeepsTheTextAroundThem) {
  const auto p = parse_tool_calls(
      "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n"
      "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>",
      tools());
  ASSERT_EQ(p.calls.size(), 2u);
  EXPECT_EQ(p.content, "Let me check.");
  EXPECT_EQ(p.calls[0].name, "get_weather");
  EXPECT_EQ(p.calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(p.calls[1].name, "ping");
  EXPECT_NE(p.calls[0].id, p.calls[1].id);
  EXPECT_EQ(p.calls[0].id.rfind("call_", 0), 0u);
}

TEST(ToolCalls, WhatIsNotAKnownCallStaysText) {
  for (const char* text : {"no calls here",
                           "<tool_call>\n{\"name\": \"unknown\", \"arguments\": {}}\n</tool_call>",
                           "<tool_call>\n{\"name\": \"ping\", \"arguments\": {\n</tool_call>",
                           "<tool_call>\n{\"name\": \"ping\", \"arguments\": \"x\"}\n</tool_call>"}) {
    const auto p = parse_tool_calls(text, tools());
    EXPECT_TRUE(p.calls.empty()) << text;
    EXPECT_EQ(p.content, text);
  }
}

TEST(ToolCalls, SplitterHoldsBackOnlyWhatMayStartACall) {
  ToolCallSplitter s;
  EXPECT_EQ(s.push("Hello <"), "Hello ");
  EXPECT_EQ(s.push("b>"), "<b>");
  EXPECT_EQ(s.push(" and <tool"), " and ");
  EXPECT_FALSE(s.in_call());
  EXPECT_EQ(s.push("_call>\n{\"na"), "");
  EXPECT_TRUE(s.in_call());
  EXPECT_EQ(s.push("me\"}"), "");
  EXPECT_EQ(s.held(), "<tool_call>\n{\"name\"}");
}

TEST(ToolCalls, GrammarAcceptsOnlyCallsToTheChosenTools) {
  auto vocab = grammar::testing::byte_vocab();
  auto accepts = [&](const std::string& g, const std::string& doc) {
    auto parsed = grammar::parse_grammar(g);
    EXPECT_TRUE(parsed.ok()) << parsed.error();
    grammar::TokenAutomaton a(std::move(*parsed), vocab);
    return grammar::testing::accepts_bytes(a, doc);
  };
  const std::string weather = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>";
  const std::string ping = "<tool_call>\n{\"name\": \"ping\", \"arguments\": {}}\n</tool_call>";
  auto any = tool_call_grammar(tools(), std::nullopt, /*parallel=*/true);
  ASSERT_TRUE(any.ok()) << any.error();
  EXPECT_TRUE(accepts(*any, weather));
  EXPECT_TRUE(accepts(*any, weather + "\n" + ping));
  EXPECT_FALSE(accepts(*any, "Sure! " + weather));
  EXPECT_FALSE(accepts(*any, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"));
  auto one = tool_call_grammar(tools(), std::string("ping"), /*parallel=*/false);
  ASSERT_TRUE(one.ok());
  EXPECT_TRUE(accepts(*one, ping));
  EXPECT_FALSE(accepts(*one, weather));
  EXPECT_FALSE(accepts(*one, ping + "\n" + ping));
  EXPECT_FALSE(tool_call_grammar(tools(), std::string("nope"), true).ok());
}

TEST(ToolCalls, RenderedTurnsParseBack) {
  const std::vector<ApiToolCall> calls = {{"call_1", "get_weather", R"({"city": "Rome"})"}};
  const std::string turn = render_tool_calls("", calls);
  const auto p = parse_tool_calls(turn, tools());
  ASSERT_EQ(p.calls.size(), 1u);
  EXPECT_EQ(p.calls[0].arguments, R"({"city":"Rome"})");
  EXPECT_NE(tools_system_prompt(tools()).find("\"name\":\"get_weather\""), std::string::npos);
  EXPECT_EQ(render_tool_response("42"), "<tool_response>\n42\n</tool_response>");
}

}  // namespace
}  // namespace turbine
