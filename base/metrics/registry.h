// The metrics registry: owns metric families and renders them in the Prometheus text
// exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8).
//
// It is the process's one piece of global mutable state (`default_registry()`), because
// every component reports into the same /metrics page; tests construct their own.
// Registration happens at start-up with constant names, so a bad name or a clash is a
// programming error (TURBINE_CHECK), not a Result. Registering the same name again with the
// same type, help and labels returns the existing family, so two owners of one metric agree.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/metrics/family.h"
#include "base/metrics/histogram.h"
#include "base/metrics/instruments.h"

namespace turbine::metrics {

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  Family<Counter>& counter_family(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names);
  Family<Gauge>& gauge_family(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names);
  Family<Histogram>& histogram_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names,
                                      std::vector<double> upper_bounds);

  // Label-less shorthands: the family's single child.
  Counter& counter(const std::string& name, const std::string& help) {
    return counter_family(name, help, {}).with({});
  }
  Gauge& gauge(const std::string& name, const std::string& help) {
    return gauge_family(name, help, {}).with({});
  }
  Histogram& histogram(const std::string& name, const std::string& help,
                       std::vector<double> upper_bounds) {
    return histogram_family(name, help, {}, std::move(upper_bounds)).with({});
  }

  // Runs before every exposition, on the scraping thread: for values that are computed
  // rather than pushed (a rate over a window that must decay while the engine is idle).
  // Collectors must be thread-safe and must not call back into the registry's expose().
  void add_collector(std::function<void()> collect);

  // The whole page, families sorted by name, children by label values.
  std::string expose() const;

 private:
  template <typename T>
  Family<T>& get_or_add(const std::string& name, const std::string& help,
                        std::vector<std::string> label_names,
                        std::function<std::unique_ptr<T>()> make,
                        const std::vector<double>* bounds);

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>> families_;
  std::map<std::string, std::vector<double>> histogram_bounds_;  // to check re-registration
  std::vector<std::function<void()>> collectors_;
};

// The process-wide registry that /metrics serves.
Registry& default_registry();

}  // namespace turbine::metrics
