#include "base/metrics/histogram.h"

#include <algorithm>
#include <cmath>

#include "base/metrics/text_format.h"
#include "base/result.h"

namespace turbine::metrics {

std::vector<double> exponential_buckets(double start, double factor, int count) {
  TURBINE_CHECK(start > 0 && factor > 1 && count >= 1);
  std::vector<double> b;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) b.push_back(v);
  return b;
}

std::vector<double> log_spaced_buckets(double min, double max, int count) {
  TURBINE_CHECK(min > 0 && max > min && count >= 2);
  std::vector<double> b;
  const double step = std::log(max / min) / (count - 1);
  for (int i = 0; i < count; ++i) {
    double v = i == count - 1 ? max : min * std::exp(step * i);
    // Two significant digits, computed as integer / power of ten: both are exact doubles,
    // so the quotient is the double nearest the decimal (0.018, not 0.018000000000000002),
    // which keeps the `le` label short.
    const int exp10 = static_cast<int>(std::floor(std::log10(v))) - 1;
    const double mantissa = std::round(v / std::pow(10.0, exp10));
    v = exp10 < 0 ? mantissa / std::pow(10.0, -exp10) : mantissa * std::pow(10.0, exp10);
    if (b.empty() || v > b.back()) b.push_back(v);
  }
  return b;
}

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    TURBINE_CHECK(std::isfinite(bounds_[i]));
    TURBINE_CHECK(i == 0 || bounds_[i] > bounds_[i - 1]);
    bound_labels_.push_back(format_value(bounds_[i]));
  }
  bound_labels_.push_back("+Inf");
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // `le` is inclusive: v lands in the first bucket whose bound is >= v. NaN compares false
  // everywhere and so lands in +Inf, as in Prometheus' own clients.
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> c(bounds_.size() + 1);
  for (size_t i = 0; i < c.size(); ++i) c[i] = counts_[i].load(std::memory_order_relaxed);
  return c;
}

uint64_t Histogram::count() const {
  uint64_t n = 0;
  for (uint64_t c : bucket_counts()) n += c;
  return n;
}

void Histogram::write(std::string& out, std::string_view name,
                      const std::vector<std::string>& label_names,
                      const std::vector<std::string>& label_values) const {
  const std::vector<uint64_t> counts = bucket_counts();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    out += name;
    out += "_bucket";
    append_labels(out, label_names, label_values, "le", bound_labels_[i]);
    out += ' ';
    out += std::to_string(cumulative);
    out += '\n';
  }
  out += name;
  out += "_sum";
  append_labels(out, label_names, label_values);
  out += ' ';
  out += format_value(sum());
  out += '\n';
  out += name;
  out += "_count";
  append_labels(out, label_names, label_values);
  out += ' ';
  out += std::to_string(cumulative);
  out += '\n';
}

}  // namespace turbine::metrics
