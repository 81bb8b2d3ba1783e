// Histogram with fixed upper bounds. observe() is lock-free: one relaxed increment of the
// bucket the value falls in plus an atomic add to the sum. Buckets are stored
// non-cumulatively and summed at scrape time, and _count is derived from those same bucket
// reads, so an exposition is always self-consistent (le="+Inf" == _count) even while other
// threads observe; only _sum may lag or lead by the observations racing with the scrape.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace turbine::metrics {

// `count` bounds start, start*factor, ... (start > 0, factor > 1).
std::vector<double> exponential_buckets(double start, double factor, int count);
// `count` bounds spaced evenly in log space from `min` to `max` inclusive, each rounded to
// two significant digits so the `le` labels stay readable (0.01, 0.018, 0.032, ...).
std::vector<double> log_spaced_buckets(double min, double max, int count);

class Histogram {
 public:
  // Bounds must be finite and strictly increasing; the +Inf bucket is implicit.
  explicit Histogram(std::vector<double> upper_bounds);

  void observe(double v);

  const std::vector<double>& upper_bounds() const { return bounds_; }
  // Per-bucket counts, non-cumulative; the last entry is the +Inf bucket.
  std::vector<uint64_t> bucket_counts() const;
  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

  static constexpr std::string_view kType = "histogram";
  void write(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
             const std::vector<std::string>& label_values) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::string> bound_labels_;            // formatted once: the `le` values
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0.0};
};

}  // namespace turbine::metrics
