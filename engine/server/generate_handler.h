// POST /v1/chat/completions and /v1/completions, in named steps:
//   parse -> build prompts (chat template, tokenize, limits) -> compile the constraint
//   (response_format / grammar, cached: grammar_cache.h) -> submit choices (prompt x n,
//   each its own sequence in the engine) -> collect (one JSON body) or stream (SSE).
// Every error answer goes through reject() (rejection.h), so each is counted once.
#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/http/message.h"
#include "engine/runtime/engine.h"
#include "engine/server/api_options.h"
#include "engine/server/grammar_cache.h"
#include "engine/server/openai_request.h"
#include "engine/server/openai_response.h"
#include "engine/server/pending_choice.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

class EngineMetrics;

class GenerateHandler {
 public:
  // `chat_template`: null when the model's template is not supported (then chat requests
  // answer 400 with `chat_template_error`).
  GenerateHandler(Engine& engine, const Tokenizer& tok, const ChatTemplate* chat_template,
                  std::string chat_template_error, const ApiOptions& opt, EngineMetrics* metrics);

  http::Response handle(const http::Request& req, bool chat) const;

 private:
  struct Prompt {
    std::vector<int32_t> ids;
    std::string text;  // for echo (completions)
  };
  template <typename T>
  using Step = std::variant<T, Rejection>;

  using Automaton = std::shared_ptr<grammar::TokenAutomaton>;

  std::optional<Rejection> check_stops(const ApiRequest& r) const;
  Step<std::vector<Prompt>> build_prompts(const ApiRequest& r) const;
  // The constraint's automaton (null without one), or a 400 naming the field.
  Step<Automaton> compile_constraint(const ApiRequest& r) const;
  Step<std::vector<PendingChoice>> submit_choices(const ApiRequest& r,
                                                  const std::vector<Prompt>& prompts,
                                                  const Automaton& grammar) const;
  GenerationSpec spec_for(const ApiRequest& r, const Prompt& p, int sample,
                          const Automaton& grammar) const;
  http::Response collect(const http::Request& req, std::vector<PendingChoice> choices,
                         const ResponseContext& rc) const;
  http::Response stream(std::vector<PendingChoice> choices, const ResponseContext& rc,
                        bool include_usage) const;

  Engine& engine_;
  const Tokenizer& tok_;
  const ChatTemplate* chat_template_;
  std::string chat_template_error_;
  const ApiOptions& opt_;
  EngineMetrics* metrics_;
  mutable GrammarCache grammars_;  // thread-safe
};

}  // namespace turbine
