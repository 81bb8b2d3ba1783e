#include "engine/server/pending_choice.h"

namespace turbine {

Rejection finish_rejection(const FinishEvent& f) {
  if (f.queue_full) return {ApiError::queue_full(), RejectReason::kQueueFull};
  return {ApiError::internal("generation failed: " + f.error), std::nullopt};
}

void cancel_unfinished(std::vector<PendingChoice>& choices) {
  for (auto& c : choices)
    if (!c.finish) c.ch->cancel();
}

std::optional<Rejection> collect_choices(std::vector<PendingChoice>& choices,
                                         std::chrono::milliseconds poll,
                                         const std::function<bool()>& client_gone) {
  // Every choice is watched at once, so a failure in any of them is seen within one poll
  // however long the others still run.
  for (;;) {
    bool waited = false, all_done = true;
    for (auto& c : choices) {
      while (!c.finish) {
        auto ev = c.ch->next(waited ? std::chrono::milliseconds(0) : poll);
        waited = true;
        if (!ev) break;
        if (ev->token) {
          c.text += ev->token->text;
          c.tokens.push_back(std::move(*ev->token));
        }
        if (ev->finish) {
          c.text += ev->finish->text;
          c.finish = std::move(*ev->finish);
        }
      }
      if (!c.finish) {
        all_done = false;
      } else if (c.finish->reason == FinishReason::kError) {
        for (auto& other : choices) other.ch->cancel();
        return finish_rejection(*c.finish);
      }
    }
    if (all_done) return std::nullopt;
    if (client_gone && client_gone()) {
      cancel_unfinished(choices);
      // nginx's 499: nobody is left to read it, but the caller's bookkeeping wants an answer.
      return Rejection{{499, "The client closed the connection.", "invalid_request_error",
                        std::nullopt, "client_closed_request"},
                       std::nullopt};
    }
  }
}

}  // namespace turbine
