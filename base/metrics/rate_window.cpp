#include "base/metrics/rate_window.h"

#include <algorithm>

#include "base/result.h"

namespace turbine::metrics {

RateWindow::RateWindow(Clock::duration window, Clock::time_point start)
    : window_(window), start_(start) {
  TURBINE_CHECK(window > Clock::duration::zero());
}

void RateWindow::prune(Clock::time_point now) {
  while (!events_.empty() && events_.front().first <= now - window_) {
    in_window_ -= events_.front().second;
    events_.pop_front();
  }
}

void RateWindow::add(int64_t count, Clock::time_point now) {
  TURBINE_CHECK(count >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  // Callers on different threads may race on `now`; keep the deque ordered by clamping.
  if (!events_.empty()) now = std::max(now, events_.back().first);
  events_.emplace_back(now, count);
  in_window_ += count;
  prune(now);
}

double RateWindow::rate(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  prune(now);
  // At least a second (or the whole window, if shorter), so the first step after start-up
  // does not report a burst divided by a millisecond.
  const Clock::duration floor = std::min<Clock::duration>(std::chrono::seconds(1), window_);
  const Clock::duration open = std::clamp<Clock::duration>(now - start_, floor, window_);
  const double seconds = std::chrono::duration<double>(open).count();
  return static_cast<double>(in_window_) / seconds;
}

}  // namespace turbine::metrics
