#include "base/http/request_parser.h"

#include <algorithm>
#include <charconv>

namespace turbine::http {

namespace {

// RFC 9110 token characters (method, header names).
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Lower-cased comma-separated list items ("close, Upgrade" -> close, upgrade).
bool list_has(std::string_view list, std::string_view item) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    if (iequals(trim_ows(list.substr(0, comma)), item)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// Where the line that starts at `from` ends (the index of its '\n'), or npos.
size_t line_end(std::string_view s, size_t from) {
  return s.find('\n', from);
}

std::string_view chop_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

void RequestParser::fail(int status, std::string message) {
  state_ = State::kError;
  error_status_ = status;
  error_message_ = std::move(message);
}

size_t RequestParser::feed(std::string_view data) {
  size_t used = 0;
  if (state_ == State::kHead) used += feed_head(data);
  if (state_ == State::kBody && used < data.size()) used += feed_body(data.substr(used));
  if (state_ == State::kBody && !chunked_ && content_length_ && body_.size() == *content_length_)
    state_ = State::kComplete;
  return used;
}

size_t RequestParser::feed_head(std::string_view data) {
  // Leading blank lines before a request line are ignored (RFC 9112 2.2).
  size_t skipped = 0;
  if (head_.empty())
    while (skipped < data.size() && (data[skipped] == '\r' || data[skipped] == '\n')) ++skipped;
  data.remove_prefix(skipped);
  const size_t before = head_.size();
  // Never buffer past the limit (+3: the rest of a blank line that ends exactly there).
  const size_t cap = limits_.max_head_bytes + 3;
  const size_t appended = std::min(data.size(), cap - std::min(before, cap));
  head_.append(data.substr(0, appended));
  // The blank line may straddle the previous feed: search from a little before.
  size_t end = std::string::npos;
  for (size_t i = before >= 2 ? before - 2 : 0; i < head_.size(); ++i) {
    if (head_[i] != '\n') continue;
    if (i + 1 < head_.size() && head_[i + 1] == '\n') {
      end = i + 2;
      break;
    }
    if (i + 2 < head_.size() && head_[i + 1] == '\r' && head_[i + 2] == '\n') {
      end = i + 3;
      break;
    }
  }
  if (end == std::string::npos || end > limits_.max_head_bytes) {
    if (head_.size() > limits_.max_head_bytes)
      fail(431, "the request head exceeds " + std::to_string(limits_.max_head_bytes) + " bytes");
    return skipped + appended;
  }
  head_.resize(end);
  const size_t used = skipped + (end - before);  // the rest belongs to the body or the next request
  if (!parse_head()) return used;
  state_ = State::kBody;
  if (!chunked_ && (!content_length_ || *content_length_ == 0)) state_ = State::kComplete;
  return used;
}

bool RequestParser::parse_head() {
  std::string_view h = head_;
  size_t pos = 0;
  bool first = true;
  size_t count = 0;
  while (pos < h.size()) {
    const size_t nl = line_end(h, pos);
    const std::string_view line = chop_cr(h.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty()) break;  // the blank line
    if (first) {
      if (!parse_request_line(line)) return false;
      first = false;
      continue;
    }
    if (++count > limits_.max_headers) {
      fail(431, "more than " + std::to_string(limits_.max_headers) + " header fields");
      return false;
    }
    if (!parse_header_line(line)) return false;
  }
  return finish_headers();
}

bool RequestParser::parse_request_line(std::string_view line) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos ||
      line.find(' ', sp2 + 1) != std::string_view::npos) {
    fail(400, "malformed request line");
    return false;
  }
  const std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (method.empty() || !std::all_of(method.begin(), method.end(), is_tchar)) {
    fail(400, "malformed request method");
    return false;
  }
  if (version == "HTTP/1.0") {
    http10_ = true;
    keep_alive_ = false;
  } else if (version != "HTTP/1.1") {
    fail(version.rfind("HTTP/", 0) == 0 ? 505 : 400, "only HTTP/1.0 and HTTP/1.1 are served");
    return false;
  }
  // absolute-form (a proxy's request): keep the path.
  if (target.rfind("http://", 0) == 0 || target.rfind("https://", 0) == 0) {
    const size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  if (target.empty() || (target.front() != '/' && target != "*")) {
    fail(400, "the request target must be a path");
    return false;
  }
  for (char c : target)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      fail(400, "malformed request target");
      return false;
    }
  req_.method = std::string(method);
  const size_t q = target.find('?');
  req_.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) req_.query = std::string(target.substr(q + 1));
  return true;
}

bool RequestParser::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') {
    fail(400, "obsolete header line folding");
    return false;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {
    fail(400, "malformed header field");
    return false;
  }
  const std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), is_tchar)) {
    fail(400, "malformed header field name");
    return false;
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  for (char c : value)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
      fail(400, "control character in a header field");
      return false;
    }
  req_.headers.add(std::string(name), std::string(value));
  return true;
}

bool RequestParser::finish_headers() {
  const Headers& h = req_.headers;
  for (const auto& [k, v] : h.fields()) {
    if (iequals(k, "Content-Length")) {
      size_t n = 0;
      const auto r = std::from_chars(v.data(), v.data() + v.size(), n);
      if (v.empty() || r.ec != std::errc() || r.ptr != v.data() + v.size()) {
        fail(400, "malformed Content-Length");
        return false;
      }
      if (content_length_ && *content_length_ != n) {
        fail(400, "conflicting Content-Length fields");
        return false;
      }
      content_length_ = n;
    } else if (iequals(k, "Transfer-Encoding")) {
      if (!iequals(trim_ows(v), "chunked")) {
        fail(501, "only the chunked transfer coding is supported");
        return false;
      }
      chunked_ = true;
    }
  }
  if (chunked_ && content_length_) {
    fail(400, "both Content-Length and Transfer-Encoding");
    return false;
  }
  if (content_length_ && *content_length_ > limits_.max_body_bytes) {
    fail(413, "the request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
    return false;
  }
  const std::string_view conn = h.get("Connection");
  if (list_has(conn, "close")) keep_alive_ = false;
  if (http10_ && list_has(conn, "keep-alive")) keep_alive_ = true;
  if (h.has("Expect")) {
    if (!iequals(h.get("Expect"), "100-continue")) {
      fail(417, "only 'Expect: 100-continue' is supported");
      return false;
    }
    expect_continue_ = !http10_ && (chunked_ || (content_length_ && *content_length_ > 0));
  }
  if (content_length_) body_.reserve(*content_length_);
  return true;
}

size_t RequestParser::feed_body(std::string_view data) {
  if (chunked_) return feed_chunked(data);
  const size_t want = *content_length_ - body_.size();
  const size_t n = std::min(want, data.size());
  body_.append(data.substr(0, n));
  return n;
}

size_t RequestParser::feed_chunked(std::string_view data) {
  size_t i = 0;
  while (i < data.size() && state_ == State::kBody) {
    if (chunk_state_ == Chunk::kData) {
      const size_t n = std::min(chunk_left_, data.size() - i);
      if (body_.size() + n > limits_.max_body_bytes) {
        fail(413, "the request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
        return i;
      }
      body_.append(data.substr(i, n));
      i += n;
      chunk_left_ -= n;
      if (chunk_left_ == 0) chunk_state_ = Chunk::kDataEnd;
      continue;
    }
    // A line: chunk size, the CRLF after a chunk's data, or a trailer field.
    const size_t nl = data.find('\n', i);
    const size_t take = (nl == std::string_view::npos ? data.size() : nl + 1) - i;
    if (line_.size() + take > 4096) {
      fail(400, "malformed chunked body");
      return i;
    }
    line_.append(data.substr(i, take));
    i += take;
    if (nl == std::string_view::npos) break;
    const std::string_view line = chop_cr(std::string_view(line_).substr(0, line_.size() - 1));
    switch (chunk_state_) {
      case Chunk::kSize: {
        const std::string_view size_text = trim_ows(line.substr(0, line.find(';')));
        size_t n = 0;
        const auto r =
            std::from_chars(size_text.data(), size_text.data() + size_text.size(), n, 16);
        if (size_text.empty() || r.ec != std::errc() ||
            r.ptr != size_text.data() + size_text.size()) {
          fail(400, "malformed chunk size");
          return i;
        }
        if (n > limits_.max_body_bytes - std::min(body_.size(), limits_.max_body_bytes)) {
          fail(413,
               "the request body exceeds " + std::to_string(limits_.max_body_bytes) + " bytes");
          return i;
        }
        chunk_left_ = n;
        chunk_state_ = n == 0 ? Chunk::kTrailer : Chunk::kData;
        break;
      }
      case Chunk::kDataEnd:
        if (!line.empty()) {
          fail(400, "malformed chunked body");
          return i;
        }
        chunk_state_ = Chunk::kSize;
        break;
      case Chunk::kTrailer:
        if (line.empty()) state_ = State::kComplete;  // trailer fields are skipped
        break;
      case Chunk::kData:
        break;
    }
    line_.clear();
  }
  return i;
}

Request RequestParser::take() {
  req_.body = std::move(body_);
  return std::move(req_);
}

}  // namespace turbine::http
