// One line per event on stderr, as plain text or JSON (`--log-json`). Header-only and
// standard-library-only so the core can log too.
#pragma once
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace turbine::log {

enum class Level { kDebug, kInfo, kWarn, kError };

struct Config {
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  std::atomic<bool> json{false};
};
inline Config& config() {
  static Config c;
  return c;
}

inline std::string json_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 2);
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\r': o += "\\r"; break;
      case '\t': o += "\\t"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          o += buf;
        } else {
          o += static_cast<char>(ch);
        }
    }
  }
  return o;
}

using Fields = std::initializer_list<std::pair<std::string_view, std::string>>;

inline void write(Level lv, std::string_view msg, Fields fields = {}) {
  if (static_cast<int>(lv) < config().min_level.load()) return;
  static const char* kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char ts[80];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  std::string line;
  if (config().json) {
    line = std::string("{\"ts\":\"") + ts + "\",\"level\":\"" + kNames[int(lv)] + "\",\"msg\":\"" +
           json_escape(msg) + "\"";
    for (const auto& [k, v] : fields) line += ",\"" + json_escape(k) + "\":\"" + json_escape(v) + "\"";
    line += "}\n";
  } else {
    line = std::string(ts) + " " + kNames[int(lv)] + " " + std::string(msg);
    for (const auto& [k, v] : fields) line += " " + std::string(k) + "=" + v;
    line += "\n";
  }
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  std::fputs(line.c_str(), stderr);
}

inline void debug(std::string_view m, Fields f = {}) { write(Level::kDebug, m, f); }
inline void info(std::string_view m, Fields f = {}) { write(Level::kInfo, m, f); }
inline void warn(std::string_view m, Fields f = {}) { write(Level::kWarn, m, f); }
inline void error(std::string_view m, Fields f = {}) { write(Level::kError, m, f); }

}  // namespace turbine::log
