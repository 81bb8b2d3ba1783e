// Stop strings over streamed text: releases text as soon as it can no longer become the
// start of a stop string, holds back a tail that still might, and cuts the output right
// before the first stop string that appears (the stop string itself is never output, as
// in OpenAI's API).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace turbine {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends generated text; returns the text that is safe to show now. After a stop string
  // is found, stopped() is true and further pushes return nothing.
  std::string push(std::string_view text);
  // The held-back tail, at the end of generation (no stop string can complete any more).
  std::string flush();
  bool stopped() const { return stopped_; }
  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace turbine
