// OpenAI response bodies: chat.completion / text_completion objects and their streaming
// chunks, with logprobs in each API's own shape.
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/runtime/request_channel.h"
#include "engine/sampling/sampling_params.h"
#include "engine/server/openai_request.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

struct ResponseContext {
  std::string id;
  int64_t created = 0;
  std::string model;
  bool chat = true;
  bool logprobs = false;
  bool top_logprobs = false;
  // Streaming with stream_options.include_usage: every chunk before the usage chunk carries
  // "usage": null, as OpenAI's do.
  bool stream_usage = false;
  // Set (chat with tools, tool_choice not none): the text is parsed for tool calls
  // (tool_calls.h) into message.tool_calls, finish_reason "tool_calls".
  std::shared_ptr<const std::vector<ApiTool>> tools;
};

struct ChoiceResult {
  int index = 0;
  std::string text;
  std::vector<TokenEvent> tokens;
  FinishEvent finish;
  int prompt_tokens = 0;
  int prompt_index = 0;  // which prompt of the request: its n choices share it
  size_t echo_bytes = 0;  // leading bytes of `text` that echo the prompt (completions)
};

// A choice's contribution to the request's usage.
struct ChoiceUsage {
  int prompt_index = 0;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
};
struct UsageCounts {
  int prompt = 0;
  int completion = 0;
  int cached = 0;
};
// OpenAI and vLLM count each prompt once however many choices (n) it has, and every
// choice's completion tokens. Cached prompt tokens are the prompt's first choice's.
UsageCounts sum_usage(const std::vector<ChoiceUsage>& choices);

nlohmann::json build_response(const ResponseContext& rc, const std::vector<ChoiceResult>& choices,
                              const Tokenizer& tok);
nlohmann::json build_role_chunk(const ResponseContext& rc, int index);
// `text_offset`: where this token's text starts in the choice's text so far (completions
// logprobs); the caller carries it per choice.
nlohmann::json build_token_chunk(const ResponseContext& rc, int index, const TokenEvent& t,
                                 const Tokenizer& tok, size_t text_offset = 0);
// A completions chunk with plain text and no token: the echoed prompt.
nlohmann::json build_text_chunk(const ResponseContext& rc, int index, const std::string& text);
nlohmann::json build_finish_chunk(const ResponseContext& rc, int index, const FinishEvent& f);
nlohmann::json build_usage_chunk(const ResponseContext& rc, int prompt, int completion, int cached);
// Streaming tool calls: the chunks for `calls` (per call, id and name first, then the
// arguments in pieces, as OpenAI streams them), before the finish chunk.
std::vector<nlohmann::json> build_tool_call_chunks(const ResponseContext& rc, int index,
                                                   const std::vector<ApiToolCall>& calls);
// A chat chunk of plain content.
nlohmann::json build_content_chunk(const ResponseContext& rc, int index, const std::string& text);
// The finish chunk of a streamed choice whose text was held for tool calls: `reason`
// replaces the engine's when calls were made.
nlohmann::json build_finish_chunk_as(const ResponseContext& rc, int index, std::string_view reason,
                                     const std::string& text);

// OpenAI finish reasons: a timeout is "length" (the output was cut), a cancellation "stop";
// the others are their own names.
std::string_view api_finish_reason(FinishReason r);

// JSON text for the wire: compact, invalid UTF-8 replaced (never an exception).
std::string to_wire(const nlohmann::json& j);

SamplingParams to_sampling_params(const ApiSampling& s);

}  // namespace turbine
