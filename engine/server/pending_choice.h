// One in-flight choice of a request (a prompt x one of its n samples) as the HTTP handler
// sees it: the channel the engine loop fills, and what has arrived so far. Collecting a
// non-streamed response and mapping a failed choice to its HTTP error live here, apart from
// the handler, so they are tested without a server or a model.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/runtime/request_channel.h"
#include "engine/server/rejection.h"
#include "engine/server/tool_calls.h"

namespace turbine {

struct PendingChoice {
  int index = 0;
  int prompt_index = 0;
  std::shared_ptr<RequestChannel> ch;
  std::string text;
  std::vector<TokenEvent> tokens;
  std::optional<FinishEvent> finish;
  int prompt_tokens = 0;
  std::string echo;        // completions with echo: the prompt's text, sent first
  size_t text_offset = 0;  // streaming logprobs: bytes of this choice's text sent so far
  ToolCallSplitter splitter;  // streaming with tools: what waits to be parsed as calls
};

// The answer for a choice that finished with FinishReason::kError: a full scheduler queue
// (a race past admission) is a 429 counted as queue_full; anything else a 500 (already
// counted by the engine as a finished request with reason "error").
Rejection finish_rejection(const FinishEvent& f);

// Cancels every choice that has not finished (the engine frees their blocks next step).
void cancel_unfinished(std::vector<PendingChoice>& choices);

// Waits until every choice has finished, appending tokens and text. When one fails, the
// others are cancelled at once (the engine frees their blocks at its next step rather than
// generating for a response nobody will get) and its rejection is returned. When
// `client_gone` answers true (checked every poll), every choice is cancelled and the
// result is a 499-style rejection nobody will read.
std::optional<Rejection> collect_choices(
    std::vector<PendingChoice>& choices,
    std::chrono::milliseconds poll = std::chrono::milliseconds(20),
    const std::function<bool()>& client_gone = nullptr);

}  // namespace turbine
