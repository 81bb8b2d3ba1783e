// The pieces of the Prometheus text exposition format 0.0.4 that need care: number
// formatting (must round-trip and spell the specials as Prometheus parses them), escaping
// of label values and HELP text, and the name grammar. Kept apart from the registry so the
// tests can pin each rule on its own.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace turbine::metrics {

// Shortest text that parses back to exactly `v`. Integral values below 1e15 print without
// an exponent ("100000", not "1e+05") because counters are read by people too.
// Specials: "+Inf", "-Inf", "NaN" (the spellings Prometheus' parser accepts).
std::string format_value(double v);

// Label values escape backslash, double quote and line feed; HELP escapes only backslash
// and line feed (a quote is legal there). Any other byte passes through: the format is UTF-8.
void append_label_value(std::string& out, std::string_view v);
void append_help(std::string& out, std::string_view help);

// `{a="x",b="y"}` or nothing when there are no labels. `extra_name`/`extra_value` append
// one more pair (the histogram's `le`) without building a new vector on the scrape path.
void append_labels(std::string& out, const std::vector<std::string>& names,
                   const std::vector<std::string>& values, std::string_view extra_name = {},
                   std::string_view extra_value = {});

// [a-zA-Z_:][a-zA-Z0-9_:]* ; colons are reserved for recording rules, so our own names
// should not use them, but the grammar allows them.
bool valid_metric_name(std::string_view name);
// [a-zA-Z_][a-zA-Z0-9_]* and not starting with "__" (reserved for Prometheus itself).
bool valid_label_name(std::string_view name);

}  // namespace turbine::metrics
