// The one logger every component uses: text lines that grep/awk can split, JSON lines that
// a log collector can parse whatever the bytes of a field were.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "base/log.h"

namespace turbine {
namespace {

// Everything after the timestamp (the first field).
std::string after_ts(const std::string& line) {
  return line.substr(line.find(' ') + 1);
}

TEST(Logger, TextLineIsLevelEventThenFields) {
  Logger log(false);
  EXPECT_EQ(
      after_ts(log.format(LogLevel::kInfo, "model loaded", {{"path", "/m.gguf"}, {"n", "3"}})),
      "info model loaded path=/m.gguf n=3");
}

TEST(Logger, TextQuotesValuesThatWouldSplit) {
  Logger log(false);
  const struct {
    std::string value, shown;
  } cases[] = {
      {"two words", "\"two words\""},
      {"", "\"\""},
      {"a=b", "\"a=b\""},
      {"say \"hi\"", "\"say \\\"hi\\\"\""},
      {"line\nbreak", "\"line\\nbreak\""},
      {"plain", "plain"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(after_ts(log.format(LogLevel::kWarn, "e", {{"k", c.value}})), "warn e k=" + c.shown)
        << c.value;
}

TEST(Logger, JsonLineHasTsLevelEventAndFields) {
  Logger log(true);
  const std::string line =
      log.format(LogLevel::kError, "listen_failed", {{"error", "port \"8000\" in use"}});
  EXPECT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line;
  EXPECT_NE(line.find("\"level\":\"error\",\"event\":\"listen_failed\",\"error\":\"port "
                      "\\\"8000\\\" in use\"}"),
            std::string::npos)
      << line;
}

TEST(Logger, JsonEscapesControlBytesAndReplacesInvalidUtf8) {
  const struct {
    std::string in, out;
  } cases[] = {
      {"tab\there", "tab\\there"},
      {std::string("nul\0x", 5), "nul\\u0000x"},
      {"\x01\x1f\x7f", "\\u0001\\u001f\\u007f"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},                  // valid 2-byte UTF-8 passes through
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},        // valid 4-byte
      {"bad\xff", "bad\xef\xbf\xbd"},                  // not a UTF-8 lead byte
      {"cut\xe2\x82", "cut\xef\xbf\xbd\xef\xbf\xbd"},  // truncated sequence: each byte replaced
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},        // overlong '/'
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // UTF-16 surrogate
  };
  for (const auto& c : cases) EXPECT_EQ(json_escape(c.in), c.out) << c.in;
}

TEST(Logger, LevelBelowTheMinimumIsNotWritten) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  Logger log(false, f);
  log.set_min_level(LogLevel::kWarn);
  log.info("dropped");
  log.debug("dropped too");
  log.warn("kept", {{"k", "v"}});
  std::rewind(f);
  char buf[256] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  const std::string out(buf, n);
  EXPECT_EQ(out.find("dropped"), std::string::npos) << out;
  EXPECT_NE(out.find(" warn kept k=v\n"), std::string::npos) << out;
}

TEST(Logger, Rfc3339HasTheLengthOfItsForm) {
  // 2026-12-03T10:11:12Z and 2026-12-03T10:11:12.123456Z
  EXPECT_EQ(rfc3339_now(false).size(), 20u);
  EXPECT_EQ(rfc3339_now(true).size(), 27u);
  EXPECT_EQ(rfc3339_now(true).back(), 'Z');
}

}  // namespace
}  // namespace turbine
