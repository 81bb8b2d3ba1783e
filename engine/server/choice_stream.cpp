#include "engine/server/choice_stream.h"

#include <chrono>

namespace turbine {

namespace {

// The chunks that precede the first token: the assistant role (chat), the echoed prompt
// (completions with echo).
bool send_heads(std::vector<PendingChoice>& choices, const ResponseContext& rc, SseWriter& sse) {
  for (auto& c : choices) {
    if (rc.chat && !sse.event(to_wire(build_role_chunk(rc, c.index)))) return false;
    if (!c.echo.empty()) {
      if (!sse.event(to_wire(build_text_chunk(rc, c.index, c.echo)))) return false;
      c.text_offset = c.echo.size();
    }
  }
  return true;
}

enum class Progress { kMore, kFailed, kGone };

// A token's text when the reply may hold tool calls: content streams until a call begins.
bool send_tool_text(PendingChoice& c, const std::string& text, const ResponseContext& rc, SseWriter& sse) {
  const std::string out = c.splitter.push(text);
  return out.empty() || sse.event(to_wire(build_content_chunk(rc, c.index, out)));
}

// The end of a reply that may hold tool calls: the calls (id and name, then the arguments
// in pieces) and finish_reason "tool_calls", or the held text as content.
bool send_tool_finish(PendingChoice& c, const ResponseContext& rc, SseWriter& sse) {
  std::string rest = c.splitter.push(c.finish->text);
  ParsedToolCalls p = parse_tool_calls(c.splitter.held(), *rc.tools);
  std::string_view reason = api_finish_reason(c.finish->reason);
  if (p.calls.empty()) return sse.event(to_wire(build_finish_chunk_as(rc, c.index, reason, rest + c.splitter.held())));
  rest += p.content;
  if (!rest.empty() && !sse.event(to_wire(build_content_chunk(rc, c.index, rest)))) return false;
  for (const auto& ch : build_tool_call_chunks(rc, c.index, p.calls))
    if (!sse.event(to_wire(ch))) return false;
  if (c.finish->reason == FinishReason::kStop) reason = "tool_calls";
  return sse.event(to_wire(build_finish_chunk_as(rc, c.index, reason, "")));
}

// Sends what one choice has ready (without blocking long: the loop produces tokens in
// steps). `wait` is how long to wait for its first event.
Progress pump_choice(PendingChoice& c, std::chrono::milliseconds wait, bool& progressed,
                     const ResponseContext& rc, const Tokenizer& tok, SseWriter& sse) {
  for (int k = 0; k < 64 && !c.finish; ++k) {
    auto ev = c.ch->next(progressed ? std::chrono::milliseconds(0) : wait);
    if (!ev) break;
    progressed = true;
    // A token whose text is held back (it may begin a stop string, or ends inside a UTF-8
    // character) has nothing to say unless its logprobs were asked for.
    if (ev->token && rc.tools) {
      if (!send_tool_text(c, ev->token->text, rc, sse)) return Progress::kGone;
    } else if (ev->token && (!ev->token->text.empty() || rc.logprobs)) {
      if (!sse.event(to_wire(build_token_chunk(rc, c.index, *ev->token, tok, c.text_offset))))
        return Progress::kGone;
      c.text_offset += ev->token->text.size();
    }
    if (ev->finish) {
      c.finish = std::move(*ev->finish);
      if (c.finish->reason == FinishReason::kError) return Progress::kFailed;
      const bool sent = rc.tools ? send_tool_finish(c, rc, sse)
                                 : sse.event(to_wire(build_finish_chunk(rc, c.index, *c.finish)));
      if (!sent) return Progress::kGone;
    }
  }
  return Progress::kMore;
}

bool send_usage(const std::vector<PendingChoice>& choices, const ResponseContext& rc,
                SseWriter& sse) {
  std::vector<ChoiceUsage> us;
  for (const auto& c : choices)
    us.push_back({c.prompt_index,
                  c.finish->prompt_tokens ? c.finish->prompt_tokens : c.prompt_tokens,
                  c.finish->completion_tokens, c.finish->cached_tokens});
  const UsageCounts u = sum_usage(us);
  return sse.event(to_wire(build_usage_chunk(rc, u.prompt, u.completion, u.cached)));
}

}  // namespace

void stream_choices(std::vector<PendingChoice>& choices, const StreamRequest& req,
                    const Tokenizer& tok, SseWriter& sse, EngineMetrics* metrics) {
  if (!send_heads(choices, req.rc, sse)) return cancel_unfinished(choices);
  for (;;) {
    bool all_done = true, progressed = false;
    for (auto& c : choices) {
      if (c.finish) continue;
      all_done = false;
      switch (pump_choice(c, std::chrono::milliseconds(20), progressed, req.rc, tok, sse)) {
        case Progress::kMore:
          break;
        case Progress::kGone:
          return cancel_unfinished(choices);
        case Progress::kFailed: {
          // Headers are gone; report the failure in OpenAI's error shape (the openai client
          // raises it) and stop the other choices.
          const Rejection r = finish_rejection(*c.finish);
          record(r, metrics);
          cancel_unfinished(choices);
          sse.event(r.error.to_json());
          sse.done();
          return;
        }
      }
    }
    if (all_done) break;
    if (sse.client_gone()) return cancel_unfinished(choices);
  }
  if (req.include_usage && !send_usage(choices, req.rc, sse)) return;
  sse.done();
}

}  // namespace turbine
