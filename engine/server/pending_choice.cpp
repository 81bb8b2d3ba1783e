#include "engine/server/pending_choice.h"

namespace turbine {

ApiError finish_error(const FinishEvent& f) {
  if (f.queue_full) return ApiError::queue_full();
  return ApiError::internal("generation failed: " + f.error);
}

std::optional<ApiError> collect_choices(std::vector<PendingChoice>& choices,
                                        std::chrono::milliseconds poll) {
  // Every choice is watched at once, so a failure in any of them is seen within one poll
  // however long the others still run. A closed connection cannot be observed here, so the
  // request deadline bounds the work.
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
      } else if (c.finish->reason == "error") {
        for (auto& other : choices) other.ch->cancel();
        return finish_error(*c.finish);
      }
    }
    if (all_done) return std::nullopt;
  }
}

}  // namespace turbine
