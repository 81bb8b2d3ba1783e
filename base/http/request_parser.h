// An incremental HTTP/1.1 request parser (RFC 9112): bytes in as they arrive, one whole
// Request out. Pure (no sockets, no clock), so every rule is table-tested; the server
// (server.h) owns the deadlines.
//
// Accepted: a request line `METHOD SP target SP HTTP/1.x`, header fields, a body by
// Content-Length or chunked transfer coding (extensions and trailers skipped). Bare LF line
// ends are taken as CRLF, as most servers do. Refused, with the status to answer:
//   400 malformed line, header, length or chunk; Content-Length and Transfer-Encoding both
//       (a request-smuggling vector); obsolete line folding; a target not starting with '/'
//   413 a body over the limit (known from Content-Length before any of it is read)
//   417 an Expect other than 100-continue
//   431 a request head over the limit, or too many header fields
//   501 a transfer coding other than chunked
//   505 an HTTP version other than 1.0 / 1.1
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "base/http/message.h"

namespace turbine::http {

struct ParserLimits {
  size_t max_head_bytes = 64 << 10;  // request line + header fields
  size_t max_headers = 100;
  size_t max_body_bytes = 8 << 20;
};

class RequestParser {
 public:
  enum class State {
    kHead,      // reading the request line and header fields
    kBody,      // head complete; reading the body
    kComplete,  // a whole request is ready (take())
    kError,     // error_status() / error_message() say what to answer
  };

  explicit RequestParser(ParserLimits limits = {}) : limits_(limits) {}

  // Consumes bytes from `data` and returns how many it used: it stops at the end of one
  // request, so bytes of a pipelined next request are left for the next parser.
  size_t feed(std::string_view data);

  State state() const { return state_; }
  bool head_complete() const { return state_ == State::kBody || state_ == State::kComplete; }
  // After the head: the client asked for `100 Continue` before it sends the body.
  bool expects_continue() const { return expect_continue_; }
  // Body bytes still expected (Content-Length) or received so far (chunked).
  size_t body_bytes() const { return body_.size(); }
  std::optional<size_t> content_length() const { return content_length_; }
  // HTTP/1.1 keeps the connection unless `Connection: close`; 1.0 only with keep-alive.
  bool keep_alive() const { return keep_alive_; }
  bool http10() const { return http10_; }

  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

  // The request (state must be kComplete); the parser is then spent.
  Request take();

 private:
  size_t feed_head(std::string_view data);
  size_t feed_body(std::string_view data);
  size_t feed_chunked(std::string_view data);
  bool parse_head();  // on the buffered head; false sets the error
  bool parse_request_line(std::string_view line);
  bool parse_header_line(std::string_view line);
  bool finish_headers();
  void fail(int status, std::string message);

  enum class Chunk { kSize, kData, kDataEnd, kTrailer };

  ParserLimits limits_;
  State state_ = State::kHead;
  std::string head_;  // raw head bytes until the blank line
  Request req_;
  std::string body_;
  std::optional<size_t> content_length_;
  bool chunked_ = false;
  Chunk chunk_state_ = Chunk::kSize;
  size_t chunk_left_ = 0;
  std::string line_;  // a partial chunk-size or trailer line
  bool expect_continue_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  int error_status_ = 0;
  std::string error_message_;
};

}  // namespace turbine::http
