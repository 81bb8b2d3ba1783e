// Events per second over a short sliding window (generation tokens per second over the last
// 10 s). The engine loop adds counts once per step; the scraper reads the rate. The clock
// is passed in on every call so tests drive time by hand and nothing here sleeps.
//
// Rate = (sum of counts added in (now - window, now]) / window. Until the window has been
// open for a full length the divisor is the time since construction instead (but at
// least 1 s), so a server that started 2 s ago does not report a fifth of its real speed.
#pragma once
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>

namespace turbine::metrics {

class RateWindow {
 public:
  using Clock = std::chrono::steady_clock;

  RateWindow(Clock::duration window, Clock::time_point start);

  void add(int64_t count, Clock::time_point now);
  double rate(Clock::time_point now);

 private:
  void prune(Clock::time_point now);  // under mu_

  const Clock::duration window_;
  const Clock::time_point start_;
  std::mutex mu_;
  // One entry per add(): at most steps-per-window entries (~1k at 100 steps/s), so a deque
  // is cheaper than it sounds and gives an exact answer.
  std::deque<std::pair<Clock::time_point, int64_t>> events_;
  int64_t in_window_ = 0;
};

}  // namespace turbine::metrics
