// An HTTP/1.1 exchange as a handler sees it, apart from any transport: the request that
// arrived whole, and the response to send, either complete or streamed (SSE) through a
// sink. Handlers written against these types are tested without sockets, and the server
// that carries them (base/http/server.h) owns every timeout and limit of the connection.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace turbine::http {

// Header fields in arrival order; names compare case-insensitively (RFC 9110 5.1).
class Headers {
 public:
  void add(std::string name, std::string value) {
    fields_.emplace_back(std::move(name), std::move(value));
  }
  // Replaces every field of that name with one.
  void set(std::string_view name, std::string value);
  // The first field of that name, or "" when there is none.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target without its query, as sent (no decoding)
  std::string query;   // after '?', or empty
  Headers headers;
  std::string body;
  // True once the client has closed its side of the connection: a handler that computes
  // for a while (a non-streamed completion) polls it and gives up on a client that left.
  // Never null; a transport that cannot tell answers false.
  std::function<bool()> client_gone = [] { return false; };
};

// Where a streamed body goes. write() sends one piece at once (one chunk); false means the
// client is gone or too slow, and the handler should stop and release what it holds.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool write(std::string_view data) = 0;
  virtual bool client_gone() = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  Headers headers;
  std::string body;
  // When set, the body is streamed instead: headers go out with chunked transfer encoding,
  // then the server calls `stream` once on the handler's thread; the body ends when it
  // returns.
  std::function<void(StreamSink&)> stream;

  static Response text(int status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8") {
    Response r;
    r.status = status;
    r.body = std::move(body);
    r.content_type = std::move(content_type);
    return r;
  }
};

// The reason phrase of a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status);

}  // namespace turbine::http
