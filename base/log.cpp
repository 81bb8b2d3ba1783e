#include "base/log.h"

#include <chrono>
#include <cstdint>
#include <ctime>

namespace turbine {

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

Logger& process_logger() {
  static Logger logger;
  return logger;
}

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

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is not one (overlong
// forms, surrogates and code points past U+10FFFF are invalid, as JSON parsers see them).
size_t utf8_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0)
    n = 2, cp = c & 0x1f;
  else if ((c & 0xf0) == 0xe0)
    n = 3, cp = c & 0x0f;
  else if ((c & 0xf8) == 0xf0)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (char c : v)
    if (c == ' ' || c == '"' || c == '=' || c == '\n' || c == '\t' || c == '\r') return true;
  return false;
}

}  // namespace

std::string json_escape(std::string_view s) {
  std::string o;
  o.reserve(s.size() + 2);
  for (size_t i = 0; i < s.size();) {
    const unsigned char ch = static_cast<unsigned char>(s[i]);
    if (ch >= 0x80) {
      const size_t n = utf8_length(s, i);
      if (n == 0) {
        o += "\xef\xbf\xbd";  // U+FFFD
        ++i;
      } else {
        o.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (ch) {
      case '"':
        o += "\\\"";
        break;
      case '\\':
        o += "\\\\";
        break;
      case '\n':
        o += "\\n";
        break;
      case '\r':
        o += "\\r";
        break;
      case '\t':
        o += "\\t";
        break;
      default:
        if (ch < 0x20 || ch == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          o += buf;
        } else {
          o += static_cast<char>(ch);
        }
    }
    ++i;
  }
  return o;
}

std::string Logger::format(LogLevel level, std::string_view event, const LogFields& fields) const {
  std::string line;
  if (json_.load(std::memory_order_relaxed)) {
    line = "{\"ts\":\"" + rfc3339_now(true) + "\",\"level\":\"" + std::string(to_string(level)) +
           "\",\"event\":\"" + json_escape(event) + "\"";
    for (const auto& [k, v] : fields)
      line += ",\"" + json_escape(k) + "\":\"" + json_escape(v) + "\"";
    line += '}';
    return line;
  }
  line = rfc3339_now(true);
  line += ' ';
  line += to_string(level);
  line += ' ';
  line += event;
  for (const auto& [k, v] : fields) {
    line += ' ';
    line += k;
    line += '=';
    // Quoted like a JSON string, so a value with spaces stays one field for grep and awk.
    if (needs_quotes(v)) {
      line += '"';
      line += json_escape(v);
      line += '"';
    } else {
      line += v;
    }
  }
  return line;
}

void Logger::write(LogLevel level, std::string_view event, const LogFields& fields) {
  if (!enabled(level)) return;
  std::string line = format(level, event, fields);
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  std::fwrite(line.data(), 1, line.size(), out_);
  std::fflush(out_);
}

}  // namespace turbine
