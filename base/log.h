// One line per event on stderr: `ts level event key=value ...`, or with JSON on (--log-json)
// one JSON object per line, which is what log collectors in a cluster want. One design for
// every component: a Logger object that whoever logs can be handed (tests capture one
// writing to a file), and the process's logger behind the free functions log::info() & co,
// which the engine's core uses so that logging needs no plumbing through every layer.
#pragma once
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turbine {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
std::string_view to_string(LogLevel level);

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  explicit Logger(bool json = false, std::FILE* out = stderr) : json_(json), out_(out) {}
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void set_json(bool json) { json_.store(json, std::memory_order_relaxed); }
  void set_min_level(LogLevel level) {
    min_level_.store(static_cast<int>(level), std::memory_order_relaxed);
  }
  bool enabled(LogLevel level) const {
    return static_cast<int>(level) >= min_level_.load(std::memory_order_relaxed);
  }

  void write(LogLevel level, std::string_view event, const LogFields& fields = {});
  void debug(std::string_view event, const LogFields& fields = {}) {
    write(LogLevel::kDebug, event, fields);
  }
  void info(std::string_view event, const LogFields& fields = {}) {
    write(LogLevel::kInfo, event, fields);
  }
  void warn(std::string_view event, const LogFields& fields = {}) {
    write(LogLevel::kWarn, event, fields);
  }
  void error(std::string_view event, const LogFields& fields = {}) {
    write(LogLevel::kError, event, fields);
  }

  // The line write() prints, without the newline (public for tests).
  std::string format(LogLevel level, std::string_view event, const LogFields& fields) const;

 private:
  std::atomic<bool> json_;
  std::atomic<int> min_level_{static_cast<int>(LogLevel::kInfo)};
  std::FILE* out_;
  std::mutex mu_;  // lines from several threads must not interleave
};

// The process's logger (stderr). Configured once by main from --log-json / -v / -q.
Logger& process_logger();

// `s` as the inside of a JSON string: quotes, backslashes and control bytes escaped,
// invalid UTF-8 replaced by U+FFFD so every line stays valid JSON.
std::string json_escape(std::string_view s);

// Wall-clock time as RFC 3339 in UTC; `micros` adds six fractional digits (a Lease's
// MicroTime), otherwise whole seconds (an Event's Time).
std::string rfc3339_now(bool micros);

namespace log {
inline void debug(std::string_view e, const LogFields& f = {}) {
  process_logger().debug(e, f);
}
inline void info(std::string_view e, const LogFields& f = {}) {
  process_logger().info(e, f);
}
inline void warn(std::string_view e, const LogFields& f = {}) {
  process_logger().warn(e, f);
}
inline void error(std::string_view e, const LogFields& f = {}) {
  process_logger().error(e, f);
}
}  // namespace log

}  // namespace turbine
