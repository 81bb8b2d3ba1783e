// base/http/server over loopback sockets: requests reach a worker only when whole, slow
// and idle clients are cut off by their deadlines without holding a worker, the connection
// cap answers 503, streams are chunked, and a handler sees its client leave.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "base/http/server.h"

namespace turbine::http {
namespace {

using namespace std::chrono_literals;

// A raw client socket.
class Client {
 public:
  explicit Client(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }
  bool send(std::string_view s) {
    return ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == ssize_t(s.size());
  }
  // Reads until `until` appears in what was read, the peer closes, or `timeout` passes.
  std::string read_until(std::string_view until, std::chrono::milliseconds timeout = 5000ms) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (until.empty() || buf_.find(until) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char b[4096];
      const ssize_t n = ::recv(fd_, b, sizeof b, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      buf_.append(b, size_t(n));
    }
    std::string out;
    if (!until.empty()) {
      const size_t at = buf_.find(until);
      if (at != std::string::npos) {
        out = buf_.substr(0, at + until.size());
        buf_.erase(0, at + until.size());
        return out;
      }
    }
    out.swap(buf_);
    return out;
  }
  // Everything until the peer closes.
  std::string read_all(std::chrono::milliseconds timeout = 5000ms) {
    return read_until("", timeout);
  }
  bool peer_closed() const { return closed_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buf_;
};

ServerLimits fast_limits() {
  ServerLimits l;
  l.idle_timeout = 300ms;
  l.head_timeout = 300ms;
  l.body_timeout = 300ms;
  l.write_timeout = 500ms;
  l.workers = 1;  // one worker: a slow client must not be able to hold it
  return l;
}

struct Fixture {
  Server server;
  explicit Fixture(std::function<Response(const Request&)> h, ServerLimits l = fast_limits())
      : server("test", std::move(h), l) {
    EXPECT_TRUE(server.bind("127.0.0.1", 0).ok());
    server.start();
  }
  int port() const { return server.port(); }
};

Response echo(const Request& r) {
  return Response::text(200, r.method + " " + r.path + " " + r.body);
}

TEST(HttpServer, ServesKeepAliveAndPipelinedRequestsInOrder) {
  Fixture f(echo);
  Client c(f.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\n\r\n"));
  std::string r = c.read_until("GET /a ");
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Connection: keep-alive"), std::string::npos);
  // Two more, pipelined in one write.
  ASSERT_TRUE(c.send("POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\n\r\n"));
  EXPECT_NE(c.read_until("POST /b hi").find("Content-Length: 10"), std::string::npos);
  EXPECT_NE(c.read_until("GET /c ").find("200 OK"), std::string::npos);
  EXPECT_EQ(f.server.stats().requests, 3);
}

TEST(HttpServer, ASlowClientHoldsNoWorker) {
  Fixture f(echo);
  // A slowloris: a request line, then a byte now and then; it never finishes the head.
  Client slow(f.port());
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.1\r\nX-A: "));
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(slow.send("a"));
  // With the only worker free, a whole request is answered at once.
  Client normal(f.port());
  ASSERT_TRUE(normal.send("GET /normal HTTP/1.1\r\n\r\n"));
  EXPECT_NE(normal.read_until("GET /normal ").find("200 OK"), std::string::npos);
  // The slow one is cut off at its head deadline with a 408.
  const std::string got = slow.read_all();
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_TRUE(slow.peer_closed());
  EXPECT_GE(f.server.stats().timed_out, 1);
}

TEST(HttpServer, ABodyThatTricklesIsCutOff) {
  Fixture f(echo);
  Client c(f.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"));
  const std::string got = c.read_all();
  EXPECT_EQ(got.rfind("HTTP/1.1 408", 0), 0u) << got;
  EXPECT_NE(got.find("body"), std::string::npos);
}

TEST(HttpServer, AnIdleKeepAliveConnectionIsClosedSilently) {
  Fixture f(echo);
  Client c(f.port());
  ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\n\r\n"));
  c.read_until("GET /a ");
  EXPECT_EQ(c.read_all(), "");  // nothing more: closed at the idle deadline
  EXPECT_TRUE(c.peer_closed());
}

TEST(HttpServer, ConnectionsAboveTheCapGetAn503AtOnce) {
  ServerLimits l = fast_limits();
  l.max_connections = 2;
  l.idle_timeout = 5000ms;
  Fixture f(echo, l);
  Client a(f.port()), b(f.port());
  ASSERT_TRUE(a.send("GET /a HTTP/1.1\r\n\r\n"));
  a.read_until("GET /a ");  // a is accepted and counted
  ASSERT_TRUE(b.send("GET /b HTTP/1.1\r\n\r\n"));
  b.read_until("GET /b ");
  Client c(f.port());
  const std::string got = c.read_all();
  EXPECT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got;
  EXPECT_NE(got.find("Retry-After: 1"), std::string::npos);
  EXPECT_EQ(f.server.stats().rejected_full, 1);
}

TEST(HttpServer, MalformedRequestsHearTheParsersStatusAndAreClosed) {
  Fixture f(echo);
  for (auto [bytes, status] : std::vector<std::pair<std::string, std::string>>{
           {"GET /a HTTP/3.0\r\n\r\n", "505"},
           {"POST /a HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400"},
           {"POST /a HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", "413"}}) {
    Client c(f.port());
    ASSERT_TRUE(c.send(bytes));
    const std::string got = c.read_all();
    EXPECT_EQ(got.rfind("HTTP/1.1 " + status, 0), 0u) << got;
    EXPECT_TRUE(c.peer_closed());
  }
}

TEST(HttpServer, ExpectContinueGetsA100BeforeTheBody) {
  Fixture f(echo);
  Client c(f.port());
  ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
  EXPECT_EQ(c.read_until("\r\n\r\n"), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(c.send("abc"));
  EXPECT_NE(c.read_until("POST /x abc").find("200 OK"), std::string::npos);
}

Response three_chunks(const Request&) {
  Response r;
  r.content_type = "text/event-stream";
  r.stream = [](StreamSink& s) {
    s.write("one");
    s.write("two");
    s.write("three");
  };
  return r;
}

TEST(HttpServer, StreamsAreChunkedForHttp11AndRawForHttp10) {
  Fixture f(three_chunks);
  Client c(f.port());
  ASSERT_TRUE(c.send("GET /s HTTP/1.1\r\n\r\n"));
  const std::string got = c.read_until("0\r\n\r\n");
  EXPECT_NE(got.find("Transfer-Encoding: chunked"), std::string::npos) << got;
  EXPECT_NE(got.find("\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n"), std::string::npos)
      << got;
  Client old(f.port());
  ASSERT_TRUE(old.send("GET /s HTTP/1.0\r\n\r\n"));
  const std::string raw = old.read_all();
  EXPECT_NE(raw.find("Connection: close"), std::string::npos) << raw;
  EXPECT_EQ(raw.substr(raw.size() - 11), "onetwothree") << raw;
  EXPECT_TRUE(old.peer_closed());
}

TEST(HttpServer, AHandlerSeesItsClientLeave) {
  std::atomic<bool> saw_gone{false};
  Fixture f([&](const Request& r) {
    for (int i = 0; i < 500 && !r.client_gone(); ++i) std::this_thread::sleep_for(10ms);
    saw_gone = r.client_gone();
    return Response::text(200, "late");
  });
  {
    Client c(f.port());
    ASSERT_TRUE(c.send("GET /wait HTTP/1.1\r\n\r\n"));
    std::this_thread::sleep_for(50ms);
  }  // closed
  for (int i = 0; i < 200 && !saw_gone; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(saw_gone.load());
}

TEST(HttpServer, AStreamToAClientThatStopsReadingEnds) {
  std::atomic<bool> write_failed{false};
  Fixture f([&](const Request&) {
    Response r;
    r.stream = [&](StreamSink& s) {
      const std::string block(64 << 10, 'x');
      for (int i = 0; i < 10000; ++i)
        if (!s.write(block)) {
          write_failed = true;
          return;
        }
    };
    return r;
  });
  Client c(f.port());
  ASSERT_TRUE(c.send("GET /big HTTP/1.1\r\n\r\n"));  // and never reads
  for (int i = 0; i < 500 && !write_failed; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(write_failed.load());
}

TEST(HttpServer, StopWaitsForARunningHandler) {
  std::atomic<bool> finished{false};
  auto f = std::make_unique<Fixture>([&](const Request&) {
    std::this_thread::sleep_for(200ms);
    finished = true;
    return Response::text(200, "done");
  });
  Client c(f->port());
  ASSERT_TRUE(c.send("GET /x HTTP/1.1\r\n\r\n"));
  std::this_thread::sleep_for(50ms);
  f->server.stop();
  EXPECT_TRUE(finished.load());
  EXPECT_NE(c.read_all().find("done"), std::string::npos);
}

TEST(SerializeHead, LengthOrChunkedAndTheConnectionFieldAreTheServers) {
  Response r = Response::text(429, "{}", "application/json");
  r.headers.set("Retry-After", "1");
  r.headers.set("Content-Length", "999");  // the handler's own is dropped
  EXPECT_EQ(serialize_head(r, 2, false),
            "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
            "Content-Length: 2\r\nConnection: close\r\n\r\n");
  EXPECT_NE(serialize_head(r, std::nullopt, true)
                .find("Transfer-Encoding: chunked\r\nConnection: keep-alive"),
            std::string::npos);
}

}  // namespace
}  // namespace turbine::http
