// API keys: `Authorization: Bearer <key>` checked against every configured key in constant
// time (the comparison's duration does not depend on where a guess first differs).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace turbine {

class ApiKeys {
 public:
  ApiKeys() = default;
  explicit ApiKeys(std::vector<std::string> keys);
  // Keys from a comma-separated list (TURBINE_API_KEYS); blanks ignored.
  static ApiKeys from_list(std::string_view csv);
  void add(std::string key);

  bool enabled() const { return !keys_.empty(); }
  const std::vector<std::string>& keys() const { return keys_; }
  // True when auth is disabled or the header carries a valid bearer key.
  bool authorize(std::string_view authorization_header) const;

 private:
  std::vector<std::string> keys_;
};

bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace turbine
