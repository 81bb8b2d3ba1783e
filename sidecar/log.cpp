#include "sidecar/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace turbine::autoscaler {

std::string rfc3339_now(bool micros) {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (micros) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us % 1000000));
    out += frac;
  }
  out += 'Z';
  return out;
}

static bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t') return true;
  }
  return false;
}

std::string Logger::format(std::string_view level, std::string_view event,
                           const LogFields& fields) const {
  if (json_) {
    nlohmann::ordered_json j;
    j["ts"] = rfc3339_now(true);
    j["level"] = level;
    j["event"] = event;
    for (const auto& [k, v] : fields) j[k] = v;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = rfc3339_now(true);
  line += ' ';
  line += level;
  line += ' ';
  line += event;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    if (needs_quotes(v)) {
      // Quoted like a JSON string so a value with spaces stays one field for grep/awk.
      line += nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    } else {
      line += v;
    }
  }
  return line;
}

void Logger::write(std::string_view level, std::string_view event, const LogFields& fields) {
  std::string line = format(level, event, fields);
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace turbine::autoscaler
