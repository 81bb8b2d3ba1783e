// One line per event on stderr, as `ts level event key=value ...` or (with --log-json) one
// JSON object per line, which is what log collectors in a cluster want. The Logger is an
// object passed to whoever logs, not a global, so tests can capture it.
#pragma once
#include <cstdio>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turbine::autoscaler {

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  explicit Logger(bool json = false, std::FILE* out = stderr) : json_(json), out_(out) {}

  void info(std::string_view event, const LogFields& fields = {}) { write("info", event, fields); }
  void warn(std::string_view event, const LogFields& fields = {}) { write("warn", event, fields); }
  void error(std::string_view event, const LogFields& fields = {}) {
    write("error", event, fields);
  }

  // The line write() would print (without the newline); public for tests.
  std::string format(std::string_view level, std::string_view event, const LogFields& fields) const;

 private:
  void write(std::string_view level, std::string_view event, const LogFields& fields);

  bool json_;
  std::FILE* out_;
  std::mutex mu_;  // lines from the elector and controller threads must not interleave
};

// Wall-clock time as RFC 3339 in UTC; `micros` adds six fractional digits (the Lease's
// MicroTime), otherwise whole seconds (an Event's Time).
std::string rfc3339_now(bool micros);

}  // namespace turbine::autoscaler
