// A parser for the Prometheus text exposition format 0.0.4: what engines serve on /metrics.
// Written here rather than borrowed because the sidecar needs only samples and their
// labels, and because a strict, small parser is easy to check against promtool's view of
// the same text (tests/unit/sidecar/prom_parser_test.cpp).
//
// Accepted: blank lines, `# HELP name text` (with \\ and \n escapes), `# TYPE name type`,
// other comments, samples `name{label="value",...} value [timestamp_ms]` with label-value
// escapes \\ \" \n, a trailing comma in the label set, values in Go's ParseFloat syntax
// including +Inf, -Inf and NaN. Rejected as Prometheus rejects them: a second HELP or
// TYPE line for a name, a TYPE line after the metric's samples, duplicate label names, the
// reserved label __name__, junk after the timestamp. Histogram and summary series (_bucket/_sum/_count) are
// ordinary samples here; PromText::family_of() maps them back to their family.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace turbine::autoscaler {

struct PromSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // in exposition order
  double value = 0.0;
  std::optional<int64_t> timestamp_ms;

  // The value of label `key`, or nullopt when the sample does not carry it.
  std::optional<std::string_view> label(std::string_view key) const;
};

struct PromText {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family name -> counter|gauge|histogram|...
  std::map<std::string, std::string> helps;  // family name -> unescaped HELP text

  // Samples named exactly `name` (in order).
  std::vector<const PromSample*> find(std::string_view name) const;
  // Sum of the values of samples named `name`; nullopt when there are none.
  std::optional<double> sum(std::string_view name) const;
  // The family a sample name belongs to: `x_bucket` -> `x` when x is a histogram, etc.
  std::string family_of(std::string_view sample_name) const;
};

// Errors name the 1-based line and what was expected there.
Result<PromText> parse_prom_text(std::string_view text);

// Go-ParseFloat-compatible number parsing (what Prometheus uses): decimal, exponent,
// optional sign, Inf/Infinity/NaN in any case. Exposed for tests.
std::optional<double> parse_prom_float(std::string_view s);

}  // namespace turbine::autoscaler
