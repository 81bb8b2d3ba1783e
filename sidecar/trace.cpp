#include "sidecar/trace.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "sidecar/k8s_config.h"

namespace turbine::autoscaler {

static std::string_view strip(std::string_view s) {
  while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

Result<std::vector<TraceRequest>> parse_trace(std::string_view csv) {
  std::vector<TraceRequest> out;
  size_t pos = 0, line_no = 0;
  bool header = false;
  while (pos < csv.size()) {
    size_t end = csv.find('\n', pos);
    if (end == std::string_view::npos) end = csv.size();
    std::string_view line = strip(csv.substr(pos, end - pos));
    pos = end + 1;
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (!header) {
      if (line != "time_s,prompt_tokens,output_tokens") {
        return Error{"trace line " + std::to_string(line_no) +
                     ": expected header time_s,prompt_tokens,output_tokens"};
      }
      header = true;
      continue;
    }
    const std::string where = "trace line " + std::to_string(line_no) + ": ";
    std::vector<std::string_view> f;
    for (size_t start = 0;;) {
      size_t comma = line.find(',', start);
      f.push_back(
          strip(line.substr(start, comma == std::string_view::npos ? comma : comma - start)));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    if (f.size() != 3) {
      return Error{where + "expected 3 fields (time_s,prompt_tokens,output_tokens), got " +
                   std::to_string(f.size())};
    }
    TraceRequest r;
    auto bad = [&](const char* what, std::string_view v, const char* expected) {
      return Error{where + "bad " + what + " '" + std::string(v) + "' (expected " + expected + ")"};
    };
    auto [p0, e0] = std::from_chars(f[0].data(), f[0].data() + f[0].size(), r.time_s);
    if (e0 != std::errc() || p0 != f[0].data() + f[0].size() || !std::isfinite(r.time_s) ||
        r.time_s < 0) {
      return bad("time_s", f[0], "seconds >= 0");
    }
    auto [p1, e1] = std::from_chars(f[1].data(), f[1].data() + f[1].size(), r.prompt_tokens);
    if (e1 != std::errc() || p1 != f[1].data() + f[1].size() || r.prompt_tokens < 1) {
      return bad("prompt_tokens", f[1], "an integer >= 1");
    }
    auto [p2, e2] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), r.output_tokens);
    if (e2 != std::errc() || p2 != f[2].data() + f[2].size() || r.output_tokens < 1) {
      return bad("output_tokens", f[2], "an integer >= 1");
    }
    out.push_back(r);
  }
  if (!header) return Error{"trace is empty (no header)"};
  std::stable_sort(out.begin(), out.end(), [](const TraceRequest& a, const TraceRequest& b) {
    return a.time_s < b.time_s;
  });
  return out;
}

Result<std::vector<TraceRequest>> load_trace(const std::string& path) {
  auto text = read_file(path);
  if (!text) return Error{text.error()};
  auto t = parse_trace(*text);
  if (!t) return Error{path + ": " + t.error()};
  return t;
}

}  // namespace turbine::autoscaler
