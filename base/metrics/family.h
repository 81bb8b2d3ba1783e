// A metric family: one name, one HELP, one type, a fixed list of label names, and one child
// instrument per distinct tuple of label values. Looking a child up takes a mutex, so the
// hot path looks it up once (at start-up or per request) and keeps the reference: children
// live as long as the family and never move.
#pragma once
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace turbine::metrics {

class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, std::string_view type,
             std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  virtual ~FamilyBase() = default;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  std::string_view type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends the samples (no HELP/TYPE lines), children in label-value order.
  virtual void write_samples(std::string& out) const = 0;

 private:
  std::string name_;
  std::string help_;
  std::string_view type_;
  std::vector<std::string> label_names_;
};

template <typename T>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;

  Family(std::string name, std::string help, std::vector<std::string> label_names, Factory make)
      : FamilyBase(std::move(name), std::move(help), T::kType, std::move(label_names)),
        make_(std::move(make)) {
    // A family without labels has exactly one child; create it now so it is exported (as 0)
    // before the first event, which is what rate() and absent() alerts expect.
    if (FamilyBase::label_names().empty()) with({});
  }

  // The child for these label values (created on first use). The number of values must
  // match the label names: a mismatch is a programming error.
  T& with(const std::vector<std::string>& values) {
    TURBINE_CHECK(values.size() == label_names().size());
    std::lock_guard<std::mutex> lock(mu_);
    auto it = children_.find(values);
    if (it == children_.end()) it = children_.emplace(values, make_()).first;
    return *it->second;
  }
  T& with(std::initializer_list<std::string_view> values) {
    std::vector<std::string> v;
    v.reserve(values.size());
    for (std::string_view s : values) v.emplace_back(s);
    return with(v);
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return children_.size();
  }

  void write_samples(std::string& out) const override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [values, child] : children_) {
      child->write(out, name(), label_names(), values);
    }
  }

 private:
  Factory make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

}  // namespace turbine::metrics
