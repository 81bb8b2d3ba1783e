// turbine's HTTP/1.1 server: one event-loop thread reads every connection, and a request
// reaches a worker thread only once it has arrived whole. A client that sends slowly (or
// not at all) costs a connection slot and a few bytes of buffer, never a worker, so a
// slowloris cannot starve the handlers or the probes.
//
// What each connection gets (ServerLimits):
//   - idle: between requests (keep-alive) and before the first byte, `idle_timeout`;
//   - head: from a request's first byte to its blank line, `head_timeout` (408 after);
//   - body: `body_timeout` plus size / `min_body_rate` (408 after);
//   - at most one request in flight: the next one (pipelined) is read after the response;
//   - open connections are capped (`max_connections`): above, an immediate 503 and close;
//   - a response write that makes no progress for `write_timeout` drops the connection
//     (a client that stops reading a stream releases its worker; the handler sees it).
// Malformed requests get their status from the parser (request_parser.h) and are closed.
// Handlers run on `workers` threads; each sees Request::client_gone, which reads the
// socket's state, so a non-streamed request is cancelled when its client leaves.
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "base/http/message.h"
#include "base/http/request_parser.h"
#include "base/result.h"

namespace turbine::http {

struct ServerLimits {
  size_t max_connections = 1024;
  ParserLimits parser;
  std::chrono::milliseconds idle_timeout{30000};
  std::chrono::milliseconds head_timeout{10000};
  std::chrono::milliseconds body_timeout{10000};
  size_t min_body_rate = 64 << 10;  // bytes per second a body must sustain past body_timeout
  std::chrono::milliseconds write_timeout{30000};
  int workers = 16;
};

// Answers a transport-level error (400 malformed, 408 too slow, 413, 431, 503 full...) in
// the owner's format; the default is plain text.
using ErrorPage = std::function<Response(int status, const std::string& message)>;

struct ServerStats {
  int64_t accepted = 0;
  int64_t rejected_full = 0;  // answered 503 at accept: max_connections reached
  int64_t timed_out = 0;      // head, body or idle deadline
  int64_t malformed = 0;      // a parser error answered
  int64_t requests = 0;       // handed to a handler
  int open = 0;               // connections now
};

class Server {
 public:
  // `name` labels the log lines ("api", "admin").
  Server(std::string name, std::function<Response(const Request&)> handler, ServerLimits limits,
         ErrorPage error_page = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds HOST:PORT (port 0 picks one); an error names the address.
  Status bind(const std::string& host, int port);
  int port() const;
  // Serves on its own threads until stop().
  void start();
  // Stops accepting and reading, closes connections that are not in a handler, waits for
  // the handlers to return (their responses are finished), then joins every thread.
  void stop();
  bool running() const;

  ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// `Status: reason` line, headers and the blank line of a response (for the server and its
// tests). `body_length` is the Content-Length, or nullopt for a chunked (streamed) body.
std::string serialize_head(const Response& r, std::optional<size_t> body_length, bool keep_alive);

}  // namespace turbine::http
