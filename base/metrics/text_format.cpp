#include "base/metrics/text_format.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "base/result.h"

namespace turbine::metrics {

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  // Exact integers print as integers: 1e15 is well inside double's 2^53 exact range.
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    auto r = std::to_chars(buf, buf + sizeof(buf), static_cast<int64_t>(v));
    TURBINE_CHECK(r.ec == std::errc());
    // -0.0 prints as "0": Prometheus treats them alike and "-0" only confuses readers.
    return std::string(buf, r.ptr);
  }
  // Shortest round-trip representation (std::to_chars without a precision guarantees it).
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  TURBINE_CHECK(r.ec == std::errc());
  return std::string(buf, r.ptr);
}

void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_help(std::string& out, std::string_view help) {
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name,
                   std::string_view extra_value) {
  TURBINE_CHECK(names.size() == values.size());
  if (names.empty() && extra_name.empty()) return;
  out += '{';
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    append_label_value(out, values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    append_label_value(out, extra_value);
    out += '"';
  }
  out += '}';
}

namespace {
bool is_alpha_(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
}  // namespace

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  if (!is_alpha_(name[0]) && name[0] != ':') return false;
  for (char c : name.substr(1)) {
    if (!is_alpha_(c) && !is_digit(c) && c != ':') return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || !is_alpha_(name[0])) return false;
  if (name.size() >= 2 && name[0] == '_' && name[1] == '_') return false;
  for (char c : name.substr(1)) {
    if (!is_alpha_(c) && !is_digit(c)) return false;
  }
  return true;
}

}  // namespace turbine::metrics
