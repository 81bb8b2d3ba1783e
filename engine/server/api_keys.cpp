#include "engine/server/api_keys.h"

namespace turbine {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Compare over the longer length so the time reveals neither the position of the first
  // difference nor (beyond the length itself) the key.
  size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = static_cast<unsigned char>(a.size() != b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

ApiKeys::ApiKeys(std::vector<std::string> keys) {
  for (auto& k : keys) add(std::move(k));
}

ApiKeys ApiKeys::from_list(std::string_view csv) {
  ApiKeys k;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view part = csv.substr(start, end - start);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t' || part.back() == '\n')) part.remove_suffix(1);
    if (!part.empty()) k.add(std::string(part));
    start = end + 1;
  }
  return k;
}

void ApiKeys::add(std::string key) {
  if (!key.empty()) keys_.push_back(std::move(key));
}

bool ApiKeys::authorize(std::string_view h) const {
  if (keys_.empty()) return true;
  constexpr std::string_view kBearer = "Bearer ";
  if (h.size() <= kBearer.size() || h.substr(0, kBearer.size()) != kBearer) return false;
  std::string_view presented = h.substr(kBearer.size());
  bool ok = false;
  for (const auto& k : keys_) ok |= constant_time_equal(presented, k);  // no early exit
  return ok;
}

}  // namespace turbine
