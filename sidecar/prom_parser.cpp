#include "sidecar/prom_parser.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <set>

namespace turbine::autoscaler {

std::optional<std::string_view> PromSample::label(std::string_view key) const {
  for (const auto& [k, v] : labels) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<const PromSample*> PromText::find(std::string_view name) const {
  std::vector<const PromSample*> out;
  for (const auto& s : samples) {
    if (s.name == name) out.push_back(&s);
  }
  return out;
}

std::optional<double> PromText::sum(std::string_view name) const {
  std::optional<double> total;
  for (const auto& s : samples) {
    if (s.name == name) total = total.value_or(0.0) + s.value;
  }
  return total;
}

std::string PromText::family_of(std::string_view sample_name) const {
  static constexpr std::string_view kSuffixes[] = {"_bucket", "_sum", "_count"};
  for (std::string_view suffix : kSuffixes) {
    if (sample_name.size() > suffix.size() &&
        sample_name.substr(sample_name.size() - suffix.size()) == suffix) {
      std::string base(sample_name.substr(0, sample_name.size() - suffix.size()));
      auto it = types.find(base);
      if (it != types.end() && (it->second == "histogram" || it->second == "summary")) {
        return base;
      }
    }
  }
  return std::string(sample_name);
}

static bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::optional<double> parse_prom_float(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool negative = false;
  std::string_view body = s;
  if (body[0] == '+' || body[0] == '-') {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (ieq(body, "inf") || ieq(body, "infinity")) {
    double inf = std::numeric_limits<double>::infinity();
    return negative ? -inf : inf;
  }
  if (ieq(body, "nan")) return std::numeric_limits<double>::quiet_NaN();
  if (body.empty() || !(std::isdigit(static_cast<unsigned char>(body[0])) || body[0] == '.')) {
    return std::nullopt;
  }
  // Go accepts '_' separators only with a base prefix, and hex floats; Prometheus never
  // emits either, so plain decimal is enough.
  double v = 0;
  auto [ptr, ec] =
      std::from_chars(body.data(), body.data() + body.size(), v, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) {
    // Go returns ±Inf for overflow and 0 for underflow with an error; Prometheus rejects it.
    return std::nullopt;
  }
  if (ec != std::errc() || ptr != body.data() + body.size()) return std::nullopt;
  return negative ? -v : v;
}

namespace {

bool name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool name_char(char c) {
  return name_start(c) || std::isdigit(static_cast<unsigned char>(c));
}
bool label_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
}
bool label_char(char c) {
  return label_start(c) || std::isdigit(static_cast<unsigned char>(c));
}
bool blank(char c) {
  return c == ' ' || c == '\t';
}

// A cursor over one line; every method reports failure by returning false/empty and
// leaves `err` describing it.
struct Line {
  std::string_view s;
  size_t pos = 0;
  std::string err;

  bool done() const { return pos >= s.size(); }
  char peek() const { return done() ? '\0' : s[pos]; }
  void skip_blanks() {
    while (!done() && blank(s[pos])) ++pos;
  }
  std::string_view word() {  // up to the next blank
    size_t start = pos;
    while (!done() && !blank(s[pos])) ++pos;
    return s.substr(start, pos - start);
  }
  std::string_view metric_name() {
    size_t start = pos;
    if (done() || !name_start(s[pos])) return {};
    while (!done() && name_char(s[pos])) ++pos;
    return s.substr(start, pos - start);
  }
  std::string_view label_name() {
    size_t start = pos;
    if (done() || !label_start(s[pos])) return {};
    while (!done() && label_char(s[pos])) ++pos;
    return s.substr(start, pos - start);
  }
  // A double-quoted label value with \\ \" \n escapes; the cursor is on the opening quote.
  bool quoted(std::string& out) {
    if (peek() != '"') {
      err = "expected '\"' to open a label value";
      return false;
    }
    ++pos;
    while (!done()) {
      char c = s[pos++];
      if (c == '"') return true;
      if (c == '\\') {
        if (done()) break;
        char e = s[pos++];
        if (e == '\\')
          out += '\\';
        else if (e == '"')
          out += '"';
        else if (e == 'n')
          out += '\n';
        else {
          err = std::string("invalid escape '\\") + e + "' in label value";
          return false;
        }
      } else {
        out += c;
      }
    }
    err = "unterminated label value";
    return false;
  }
};

std::string unescape_help(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '\\' || s[i + 1] == 'n')) {
      out += s[i + 1] == 'n' ? '\n' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// `# HELP` / `# TYPE` lines; anything else after '#' is a comment. `sampled` holds the
// sample names seen so far: a TYPE line must come before its metric's samples.
Status parse_comment(Line& line, PromText& out, const std::set<std::string, std::less<>>& sampled) {
  ++line.pos;  // '#'
  line.skip_blanks();
  std::string_view keyword = line.word();
  if (keyword != "HELP" && keyword != "TYPE") return Status::Ok();
  line.skip_blanks();
  std::string_view name = line.metric_name();
  if (name.empty()) return Error{"expected a metric name after # " + std::string(keyword)};
  if (!line.done() && !blank(line.peek())) {
    return Error{"invalid character in metric name after # " + std::string(keyword)};
  }
  line.skip_blanks();
  std::string_view rest = line.s.substr(line.pos);
  if (keyword == "HELP") {
    auto [it, inserted] = out.helps.emplace(std::string(name), unescape_help(rest));
    if (!inserted) return Error{"second HELP line for " + std::string(name)};
    return Status::Ok();
  }
  while (!rest.empty() && blank(rest.back())) rest.remove_suffix(1);
  if (rest.empty()) return Status::Ok();  // "# TYPE name" alone says nothing (as Prometheus)
  if (sampled.count(name)) {
    return Error{"TYPE line for " + std::string(name) + " after its samples"};
  }
  static constexpr std::string_view kTypes[] = {"counter", "gauge", "histogram", "summary",
                                                "untyped"};
  for (std::string_view t : kTypes) {
    if (rest == t) {
      auto [it, inserted] = out.types.emplace(std::string(name), std::string(rest));
      if (!inserted) return Error{"second TYPE line for " + std::string(name)};
      return Status::Ok();
    }
  }
  return Error{"unknown metric type '" + std::string(rest) + "'"};
}

Status parse_sample(Line& line, PromSample& sample) {
  std::string_view name = line.metric_name();
  if (name.empty()) return Error{"expected a metric name"};
  sample.name = std::string(name);
  if (!line.done() && !blank(line.peek()) && line.peek() != '{') {
    return Error{"invalid character '" + std::string(1, line.peek()) + "' after the metric name"};
  }
  line.skip_blanks();
  if (line.peek() == '{') {
    ++line.pos;
    for (;;) {
      line.skip_blanks();
      if (line.peek() == '}') {
        ++line.pos;
        break;
      }
      std::string_view label = line.label_name();
      if (label.empty()) return Error{"expected a label name or '}'"};
      if (label == "__name__") return Error{"label name __name__ is reserved"};
      line.skip_blanks();
      if (line.peek() != '=') return Error{"expected '=' after label " + std::string(label)};
      ++line.pos;
      line.skip_blanks();
      std::string value;
      if (!line.quoted(value)) return Error{line.err};
      for (const auto& [k, v] : sample.labels) {
        if (k == label) return Error{"duplicate label " + std::string(label)};
      }
      sample.labels.emplace_back(std::string(label), std::move(value));
      line.skip_blanks();
      if (line.peek() == ',') {
        ++line.pos;
      } else if (line.peek() != '}') {
        return Error{"expected ',' or '}' in label set"};
      }
    }
  }
  line.skip_blanks();  // after '}' the blank before the value may be omitted
  std::string_view value = line.word();
  if (value.empty()) return Error{"missing value for " + sample.name};
  auto v = parse_prom_float(value);
  if (!v) return Error{"invalid value '" + std::string(value) + "'"};
  sample.value = *v;
  line.skip_blanks();
  if (!line.done()) {
    std::string_view ts = line.word();
    int64_t ms = 0;
    auto [ptr, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), ms);
    if (ec != std::errc() || ptr != ts.data() + ts.size()) {
      return Error{"invalid timestamp '" + std::string(ts) + "'"};
    }
    sample.timestamp_ms = ms;
    line.skip_blanks();
    if (!line.done()) return Error{"unexpected text after the timestamp"};
  }
  return Status::Ok();
}

}  // namespace

Result<PromText> parse_prom_text(std::string_view text) {
  PromText out;
  std::set<std::string, std::less<>> sampled;
  size_t line_no = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    Line line;
    line.s = text.substr(start, end - start);
    start = end + 1;
    ++line_no;
    line.skip_blanks();
    if (line.done()) continue;
    Status st;
    if (line.peek() == '#') {
      st = parse_comment(line, out, sampled);
    } else {
      PromSample sample;
      st = parse_sample(line, sample);
      if (st.ok()) {
        sampled.insert(sample.name);
        out.samples.push_back(std::move(sample));
      }
    }
    if (!st.ok()) return Error{"line " + std::to_string(line_no) + ": " + st.error()};
  }
  return out;
}

}  // namespace turbine::autoscaler
