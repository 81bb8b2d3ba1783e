#include "engine/server/tool_calls.h"

#include <random>

#include "engine/server/json_schema_grammar.h"

namespace turbine {
namespace {

using ojson = nlohmann::ordered_json;
constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";

std::string call_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s = "call_";
  for (int i = 0; i < 24; ++i) s += kHex[rng() & 15];
  return s;
}

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  const auto b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

}  // namespace

std::string tools_system_prompt(const std::vector<ApiTool>& tools) {
  std::string s =
      "You can call functions to help with the user's request. The functions are described "
      "as JSON inside <tools></tools>:\n<tools>\n";
  for (const ApiTool& t : tools)
    s += ojson{{"type", "function"}, {"function", t.function}}.dump() + "\n";
  s += "</tools>\nTo call a function, answer with a JSON object holding its name and arguments "
       "inside <tool_call></tool_call> tags, one block per call:\n<tool_call>\n"
       "{\"name\": <function-name>, \"arguments\": <arguments-object>}\n</tool_call>";
  return s;
}

std::string render_tool_calls(const std::string& content, const std::vector<ApiToolCall>& calls) {
  std::string s = content;
  for (const ApiToolCall& c : calls) {
    if (!s.empty()) s += "\n";
    ojson args = ojson::parse(c.arguments, nullptr, false);
    if (args.is_discarded()) args = c.arguments;  // kept as a string rather than dropped
    s += std::string(kOpen) + "\n" + ojson{{"name", c.name}, {"arguments", args}}.dump() + "\n" +
         std::string(kClose);
  }
  return s;
}

std::string render_tool_response(const std::string& content) {
  return "<tool_response>\n" + content + "\n</tool_response>";
}

Result<std::string> tool_call_grammar(const std::vector<ApiTool>& tools,
                                      const std::optional<std::string>& only, bool parallel) {
  ojson any = ojson::array();
  for (const ApiTool& t : tools) {
    if (only && t.name != *only) continue;
    ojson params = t.function.contains("parameters") ? t.function["parameters"]
                                                     : ojson{{"type", "object"}, {"properties", ojson::object()}};
    any.push_back({{"type", "object"},
                   {"properties", {{"name", {{"const", t.name}}}, {"arguments", params}}},
                   {"required", {"name", "arguments"}}});
  }
  if (any.empty()) return Error{"no tool named '" + only.value_or("") + "'"};
  auto call = json_schema_to_grammar(any.size() == 1 ? any[0] : ojson{{"anyOf", any}});
  if (!call.ok()) return Error{call.error()};
  // The schema's grammar has its own root: rename it to `call` and wrap it in the tags.
  std::string rules = *call;
  rules.replace(0, std::string("root ::=").size(), "call ::=");
  const std::string block = R"("<tool_call>\n" call "\n</tool_call>")";
  return "root ::= " + block + (parallel ? " (\"\\n\" " + block + "){0,7}" : "") + "\n" + rules;
}

ParsedToolCalls parse_tool_calls(const std::string& text, const std::vector<ApiTool>& tools) {
  ParsedToolCalls out;
  std::string content;
  size_t pos = 0;
  for (;;) {
    const size_t open = text.find(kOpen, pos);
    if (open == std::string::npos) break;
    const size_t body = open + kOpen.size();
    const size_t close = text.find(kClose, body);
    const std::string inner = text.substr(body, close == std::string::npos ? std::string::npos : close - body);
    ojson j = ojson::parse(inner, nullptr, false);
    bool known = false;
    if (j.is_object() && j.contains("name") && j["name"].is_string() && j.contains("arguments") &&
        j["arguments"].is_object()) {
      for (const ApiTool& t : tools) known = known || t.name == j["name"].get<std::string>();
    }
    if (!known) break;  // not a call we can return: the rest stays text
    content += text.substr(pos, open - pos);
    out.calls.push_back({call_id(), j["name"].get<std::string>(), j["arguments"].dump()});
    pos = close == std::string::npos ? text.size() : close + kClose.size();
  }
  content += text.substr(pos);
  out.content = out.calls.empty() ? text : trim(content);
  return out;
}

std::string ToolCallSplitter::push(const std::string& text) {
  held_ += text;
  if (in_call_) return "";
  if (const size_t at = held_.find(kOpen); at != std::string::npos) {
    in_call_ = true;
    std::string out = held_.substr(0, at);
    held_.erase(0, at);
    return out;
  }
  // Hold back the longest suffix that is a prefix of "<tool_call>".
  size_t keep = 0;
  for (size_t n = std::min(held_.size(), kOpen.size() - 1); n > 0; --n) {
    if (held_.compare(held_.size() - n, n, kOpen.substr(0, n)) == 0) {
      keep = n;
      break;
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

}  // namespace turbine
