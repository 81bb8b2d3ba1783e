// Counter and Gauge: one atomic double each, so the engine loop's hot path is a single
// lock-free read-modify-write and a scrape never blocks it. (C++20 atomic<double>::fetch_add
// compiles to a compare-exchange loop; contention is low: one writer thread in practice.)
#pragma once
#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "base/metrics/text_format.h"
#include "base/result.h"

namespace turbine::metrics {

class Counter {
 public:
  // Counters only go up; a negative increment is a caller bug, not input.
  void inc(double v = 1.0) {
    TURBINE_CHECK(v >= 0.0);
    value_.fetch_add(v, std::memory_order_relaxed);
  }
  double value() const { return value_.load(std::memory_order_relaxed); }

  static constexpr std::string_view kType = "counter";
  void write(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
             const std::vector<std::string>& label_values) const {
    out += name;
    append_labels(out, label_names, label_values);
    out += ' ';
    out += format_value(value());
    out += '\n';
  }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  void dec(double v = 1.0) { value_.fetch_sub(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

  static constexpr std::string_view kType = "gauge";
  void write(std::string& out, std::string_view name, const std::vector<std::string>& label_names,
             const std::vector<std::string>& label_values) const {
    out += name;
    append_labels(out, label_names, label_values);
    out += ' ';
    out += format_value(value());
    out += '\n';
  }

 private:
  std::atomic<double> value_{0.0};
};

}  // namespace turbine::metrics
