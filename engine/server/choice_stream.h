// Streaming a request's choices as OpenAI's SSE chunks: the role (chat) or echoed prompt
// first, then round-robin over the choices one chunk per token as the engine produces
// them, each choice's finish chunk, the usage chunk when asked for, and [DONE].
#pragma once
#include <vector>

#include "engine/server/openai_response.h"
#include "engine/server/pending_choice.h"
#include "engine/server/sse_writer.h"

namespace turbine {

class EngineMetrics;

struct StreamRequest {
  ResponseContext rc;
  bool include_usage = false;
};

// Runs until every choice has finished, one fails (its error goes out in OpenAI's error
// shape, the others are cancelled) or the client goes away (every choice is cancelled, so
// the engine frees their KV blocks at its next step).
void stream_choices(std::vector<PendingChoice>& choices, const StreamRequest& req,
                    const Tokenizer& tok, SseWriter& sse, EngineMetrics* metrics);

}  // namespace turbine
