// Parsing and validating OpenAI-style request bodies (chat completions and completions)
// into one plain struct. Every rejection is an ApiError naming the offending parameter.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "engine/server/api_error.h"
#include "engine/server/tool_calls.h"

namespace turbine {

struct ApiMessage {
  std::string role;
  std::string content;
  std::vector<ApiToolCall> tool_calls;  // assistant turns that called tools
  std::string tool_call_id;             // role "tool": the call this answers
};

struct ApiSampling {
  float temperature = 1.0f;
  float top_p = 1.0f;
  int top_k = 0;
  float min_p = 0.0f;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  float repetition_penalty = 1.0f;
  std::optional<uint64_t> seed;
  std::vector<std::string> stop;
  std::map<int32_t, float> logit_bias;
  bool ignore_eos = false;
};

// A constraint on the output: response_format json_object / json_schema, or `grammar`.
struct ApiConstraint {
  std::string kind;     // "json_object", "json_schema" or "grammar" (the metric label)
  std::string grammar;  // grammar text (engine/grammar/grammar_parser.h)
  std::string param;    // the request field it came from, for errors
};

struct ApiRequest {
  bool chat = true;
  std::string model;
  std::vector<ApiMessage> messages;           // chat
  // completions: each prompt is text or token ids
  std::vector<std::variant<std::string, std::vector<int32_t>>> prompts;
  std::optional<int> max_tokens;              // max_tokens / max_completion_tokens
  int n = 1;
  bool stream = false;
  bool include_usage = false;                 // stream_options.include_usage
  bool logprobs = false;
  int top_logprobs = 0;                       // chat: top_logprobs; completions: logprobs=N
  bool echo = false;
  ApiSampling sampling;
  std::string user;
  std::optional<ApiConstraint> constraint;
  // Chat tool calling (tool_calls.h). tool_choice: "none", "auto", "required" or
  // "function" (then tool_choice_name).
  std::vector<ApiTool> tools;
  std::string tool_choice = "auto";
  std::string tool_choice_name;
  bool parallel_tool_calls = true;
};

struct RequestLimits {
  int max_n = 16;
  int max_stop = 4;
  int max_top_logprobs = 20;
};

// The longest prompt (in tokens) a server accepts: the user's --max-prompt-tokens N
// (0: none) admits N tokens, and the context must keep room for at least one generated
// token, so a prompt of `context_tokens` never fits. A prompt longer than this is a 413.
int64_t prompt_token_limit(int max_prompt_tokens, int64_t context_tokens);

// body: the raw JSON text.
std::variant<ApiRequest, ApiError> parse_chat_request(const std::string& body, const RequestLimits& lim = {});
std::variant<ApiRequest, ApiError> parse_completion_request(const std::string& body, const RequestLimits& lim = {});

// POST /tokenize (vLLM's shape): either a prompt, or chat messages rendered through the
// chat template first.
struct TokenizeRequest {
  std::optional<std::string> prompt;  // set: tokenize this text
  std::vector<ApiMessage> messages;   // otherwise: these, through the chat template
  bool add_special_tokens = true;
  bool add_generation_prompt = true;
};
std::variant<TokenizeRequest, ApiError> parse_tokenize_request(const std::string& body);

// POST /detokenize: token ids, each in [0, n_vocab).
std::variant<std::vector<int32_t>, ApiError> parse_detokenize_request(const std::string& body,
                                                                      int n_vocab);

}  // namespace turbine
