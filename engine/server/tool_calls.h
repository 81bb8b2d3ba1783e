// Tool calling for chat completions, in the Hermes form Qwen2.5, Hermes and SmolLM2's
// larger siblings use: the tools go into the system message as JSON within <tools></tools>,
// the model answers each call as
//   <tool_call>
//   {"name": "get_weather", "arguments": {"city": "Paris"}}
//   </tool_call>
// and a tool's result comes back as a user turn within <tool_response></tool_response>.
// Today's templates (ChatML, Llama-2, Llama-3 as chat_template.h renders them) have no tool
// syntax of their own, so this one serves every model; a template that brings its own
// will replace the rendering, and the parser already reads what Qwen2.5's produces.
//
// tool_choice "required" or a named function constrains the output to calls (their
// arguments to each tool's `parameters` schema: json_schema_grammar.h); "auto" leaves the
// model free and parses what it wrote; "none" leaves the tools out of the prompt.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace turbine {

struct ApiTool {
  std::string name;
  nlohmann::ordered_json function;  // the request's "function" object, as sent
};

struct ApiToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text
};

// The system text that describes `tools` to the model.
std::string tools_system_prompt(const std::vector<ApiTool>& tools);
// An assistant turn that made `calls` (after any text it wrote), as the model writes it.
std::string render_tool_calls(const std::string& content, const std::vector<ApiToolCall>& calls);
std::string render_tool_response(const std::string& content);

// The grammar for one or more calls (at most one unless `parallel`), to `only` when set.
Result<std::string> tool_call_grammar(const std::vector<ApiTool>& tools,
                                      const std::optional<std::string>& only, bool parallel);

struct ParsedToolCalls {
  std::string content;  // the text outside the calls (trimmed)
  std::vector<ApiToolCall> calls;
};
// The calls in `text` (each block's JSON must have a known "name" and object "arguments"
// or it stays text); ids are fresh "call_..." strings.
ParsedToolCalls parse_tool_calls(const std::string& text, const std::vector<ApiTool>& tools);

// Streaming: passes text through until a call may begin, holds back what could be the
// start of "<tool_call>", and keeps everything from a call on for parse_tool_calls at
// the end.
class ToolCallSplitter {
 public:
  // The text that can be streamed as content now.
  std::string push(const std::string& text);
  bool in_call() const { return in_call_; }
  // Everything held back (the held prefix and any calls).
  const std::string& held() const { return held_; }

 private:
  std::string held_;
  bool in_call_ = false;
};

}  // namespace turbine
