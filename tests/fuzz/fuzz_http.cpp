// libFuzzer entry point for the HTTP/1.1 request parser: any bytes, fed whole and in a
// split the input chooses, give the same outcome; a refusal has a status and a message;
// nothing crashes or reads out of bounds; the buffered head never passes its limit.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/http/request_parser.h"

using turbine::http::ParserLimits;
using turbine::http::RequestParser;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  ParserLimits lim;
  lim.max_head_bytes = 2048;
  lim.max_body_bytes = 4096;
  RequestParser whole(lim), split(lim);
  const size_t used_whole = whole.feed(all);
  const size_t cut = data[0] % (all.size() + 1);
  size_t used_split = split.feed(all.substr(0, cut));
  if (split.state() == RequestParser::State::kHead || split.state() == RequestParser::State::kBody)
    used_split += split.feed(all.substr(used_split));
  if (whole.state() != split.state()) __builtin_trap();
  if (whole.state() == RequestParser::State::kError) {
    if (whole.error_status() < 400 || whole.error_status() > 505 || whole.error_message().empty())
      __builtin_trap();
    if (whole.error_status() != split.error_status()) __builtin_trap();
    return 0;
  }
  if (used_whole > all.size()) __builtin_trap();
  if (whole.state() == RequestParser::State::kComplete) {
    if (used_whole != used_split) __builtin_trap();
    const auto a = whole.take();
    const auto b = split.take();
    if (a.body != b.body || a.path != b.path || a.method != b.method) __builtin_trap();
    if (a.body.size() > lim.max_body_bytes) __builtin_trap();
  }
  return 0;
}
