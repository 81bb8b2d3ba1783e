#include "base/metrics/registry.h"

#include <set>

#include "base/metrics/text_format.h"

namespace turbine::metrics {

template <typename T>
Family<T>& Registry::get_or_add(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names,
                                std::function<std::unique_ptr<T>()> make,
                                const std::vector<double>* bounds) {
  TURBINE_CHECK(valid_metric_name(name));
  std::set<std::string> seen;
  for (const std::string& l : label_names) {
    TURBINE_CHECK(valid_label_name(l));
    TURBINE_CHECK(seen.insert(l).second);
    // `le` is the histogram's own label; `quantile` belongs to summaries.
    TURBINE_CHECK(!(T::kType == Histogram::kType && l == "le"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<Family<T>*>(it->second.get());
    TURBINE_CHECK(existing != nullptr);
    TURBINE_CHECK(existing->help() == help && existing->label_names() == label_names);
    if (bounds) TURBINE_CHECK(histogram_bounds_[name] == *bounds);
    return *existing;
  }
  // Histograms also own name_bucket/_sum/_count; a family of that name would collide.
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      auto base = families_.find(name.substr(0, name.size() - s.size()));
      TURBINE_CHECK(base == families_.end() || base->second->type() != Histogram::kType);
    }
    if (bounds) TURBINE_CHECK(families_.find(name + s) == families_.end());
  }
  if (bounds) histogram_bounds_[name] = *bounds;
  auto family = std::make_unique<Family<T>>(name, help, std::move(label_names), std::move(make));
  Family<T>& ref = *family;
  families_.emplace(name, std::move(family));
  return ref;
}

Family<Counter>& Registry::counter_family(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  return get_or_add<Counter>(
      name, help, std::move(label_names), [] { return std::make_unique<Counter>(); }, nullptr);
}

Family<Gauge>& Registry::gauge_family(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  return get_or_add<Gauge>(
      name, help, std::move(label_names), [] { return std::make_unique<Gauge>(); }, nullptr);
}

Family<Histogram>& Registry::histogram_family(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> upper_bounds) {
  // Validate once here so a bad bucket list fails at registration, not at first use.
  Histogram probe(upper_bounds);
  const std::vector<double> bounds = upper_bounds;
  return get_or_add<Histogram>(
      name, help, std::move(label_names),
      [b = std::move(upper_bounds)] { return std::make_unique<Histogram>(b); }, &bounds);
}

void Registry::add_collector(std::function<void()> collect) {
  std::lock_guard<std::mutex> lock(mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::expose() const {
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard<std::mutex> lock(mu_);
    collectors = collectors_;
  }
  // Outside the registry lock: a collector may set gauges (which take no registry lock)
  // or even look up family children.
  for (const auto& c : collectors) c();

  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, family] : families_) {
    out += "# HELP ";
    out += name;
    out += ' ';
    append_help(out, family->help());
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += family->type();
    out += '\n';
    family->write_samples(out);
  }
  return out;
}

Registry& default_registry() {
  // Never destroyed: threads that outlive main's statics may still report.
  static Registry* r = new Registry();
  return *r;
}

}  // namespace turbine::metrics
