// OpenAI response bodies: chat.completion / text_completion objects and their streaming
// chunks, with logprobs in each API's own shape.
#pragma once
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
};

struct ChoiceResult {
  int index = 0;
  std::string text;
  std::vector<TokenEvent> tokens;
  FinishEvent finish;
  int prompt_tokens = 0;
};

nlohmann::json build_response(const ResponseContext& rc, const std::vector<ChoiceResult>& choices,
                              const Tokenizer& tok);
nlohmann::json build_role_chunk(const ResponseContext& rc, int index);
nlohmann::json build_token_chunk(const ResponseContext& rc, int index, const TokenEvent& t,
                                 const Tokenizer& tok);
nlohmann::json build_finish_chunk(const ResponseContext& rc, int index, const FinishEvent& f);
nlohmann::json build_usage_chunk(const ResponseContext& rc, int prompt, int completion, int cached);

// OpenAI finish reasons: our internal "timeout"/"cancelled" map to "length"/"stop"-like
// values a client understands.
std::string api_finish_reason(const std::string& internal);

SamplingParams to_sampling_params(const ApiSampling& s);

}  // namespace turbine
