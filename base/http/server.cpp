#include "base/http/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "base/log.h"

namespace turbine::http {

namespace {

using Clock = std::chrono::steady_clock;

// True once the peer has closed (or reset) its side. Pipelined bytes of a next request are
// not a close: they are peeked at, not read.
bool peer_closed(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLIN) {
    char c;
    const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
  }
  return false;
}

// Writes all of `data` within `timeout` of no progress; false when the peer is gone or too
// slow to read.
bool send_all(int fd, std::string_view data, std::chrono::milliseconds timeout) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
      if (r <= 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL))) return false;
      continue;
    }
    return false;
  }
  return true;
}

// A best-effort write from the event loop, which must never block (an error page).
void send_nowait(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

std::string hex(size_t n) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%zx", n);
  return buf;
}

Response default_error_page(int status, const std::string& message) {
  return Response::text(status, message + "\n");
}

// A streamed body: HTTP/1.1 chunks, or raw bytes to an HTTP/1.0 client (which reads to
// the close).
class ChunkedSink : public StreamSink {
 public:
  ChunkedSink(int fd, bool chunked, std::chrono::milliseconds timeout)
      : fd_(fd), chunked_(chunked), timeout_(timeout) {}
  bool write(std::string_view data) override {
    if (failed_ || data.empty()) return !failed_;
    if (chunked_) {
      std::string frame = hex(data.size());
      frame += "\r\n";
      frame += data;
      frame += "\r\n";
      failed_ = !send_all(fd_, frame, timeout_);
    } else {
      failed_ = !send_all(fd_, data, timeout_);
    }
    return !failed_;
  }
  bool client_gone() override {
    if (!failed_ && peer_closed(fd_)) failed_ = true;
    return failed_;
  }
  bool finish() {
    if (!failed_ && chunked_) failed_ = !send_all(fd_, "0\r\n\r\n", timeout_);
    return !failed_;
  }

 private:
  int fd_;
  bool chunked_;
  std::chrono::milliseconds timeout_;
  bool failed_ = false;
};

}  // namespace

std::string serialize_head(const Response& r, std::optional<size_t> body_length, bool keep_alive) {
  std::string out =
      "HTTP/1.1 " + std::to_string(r.status) + " " + std::string(reason_phrase(r.status)) + "\r\n";
  for (const auto& [k, v] : r.headers.fields()) {
    if (iequals(k, "Content-Length") || iequals(k, "Transfer-Encoding") || iequals(k, "Connection"))
      continue;  // ours to set
    out += k + ": " + v + "\r\n";
  }
  if (!r.headers.has("Content-Type") && !r.content_type.empty())
    out += "Content-Type: " + r.content_type + "\r\n";
  if (body_length) {
    out += "Content-Length: " + std::to_string(*body_length) + "\r\n";
  } else {
    out += "Transfer-Encoding: chunked\r\n";
  }
  out += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

struct Server::Impl {
  enum class Phase { kIdle, kHead, kBody, kHandler };
  struct Conn {
    int fd = -1;
    std::string in;  // bytes read and not yet parsed (a pipelined next request)
    RequestParser parser;
    Phase phase = Phase::kIdle;
    Clock::time_point deadline;
    Clock::time_point body_start;
    bool sent_continue = false;
    bool peer_eof = false;
    bool keep_alive = true;
    bool head_request = false;
    bool http10 = false;
  };
  struct Job {
    Conn* conn;
    Request req;
  };

  std::string name;
  std::function<Response(const Request&)> handler;
  ServerLimits lim;
  ErrorPage error_page;

  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<int> bound_port{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  std::thread loop_thread;
  std::vector<std::thread> workers;

  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // loop thread (and stop())

  std::mutex jobs_mu;
  std::condition_variable jobs_cv;
  std::deque<Job> jobs;
  bool jobs_closed = false;

  std::mutex back_mu;
  std::vector<std::pair<Conn*, bool>> returned;  // (conn, keep it open) from the workers

  std::atomic<int64_t> accepted{0}, rejected_full{0}, timed_out{0}, malformed{0}, requests{0};
  std::atomic<int> open{0};
  Clock::time_point last_full_warning{};

  Impl(std::string n, std::function<Response(const Request&)> h, ServerLimits l, ErrorPage e)
      : name(std::move(n)),
        handler(std::move(h)),
        lim(l),
        error_page(e ? std::move(e) : default_error_page) {}

  ~Impl() {
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0) ::close(fd);
  }

  // ---- the event loop ----

  void loop() {
    std::vector<epoll_event> events(256);
    while (!stopping.load()) {
      const int n =
          ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), next_timeout_ms());
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
        } else if (fd == wake_fd) {
          uint64_t v;
          (void)!::read(wake_fd, &v, sizeof v);
          take_returned();
        } else if (auto it = conns.find(fd);
                   it != conns.end() && it->second->phase != Phase::kHandler) {
          on_readable(it->second.get());
        }
      }
      expire(Clock::now());
    }
    // Stopping: what is not in a handler closes now.
    for (auto it = conns.begin(); it != conns.end();) {
      if (it->second->phase == Phase::kHandler) {
        ++it;
        continue;
      }
      ::close(it->first);
      --open;
      it = conns.erase(it);
    }
  }

  int next_timeout_ms() const {
    auto next = Clock::now() + std::chrono::seconds(1);
    for (const auto& [fd, c] : conns)
      if (c->phase != Phase::kHandler) next = std::min(next, c->deadline);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
    return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 1000));
  }

  void watch(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN, or out of descriptors (the backlog holds them until next time)
      }
      ++accepted;
      if (conns.size() >= lim.max_connections) {
        ++rejected_full;
        warn_full();
        send_error(
            fd, 503,
            "the server has " + std::to_string(conns.size()) + " open connections; retry shortly");
        ::close(fd);
        continue;
      }
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->parser = RequestParser(lim.parser);
      c->deadline = Clock::now() + lim.idle_timeout;
      watch(fd);
      ++open;
      conns.emplace(fd, std::move(c));
    }
  }

  void warn_full() {
    const auto now = Clock::now();
    if (now - last_full_warning < std::chrono::seconds(10)) return;
    last_full_warning = now;
    log::warn("http connection limit reached; answering 503",
              {{"listener", name}, {"max_connections", std::to_string(lim.max_connections)}});
  }

  void send_error(int fd, int status, const std::string& message) {
    Response r = error_page(status, message);
    if (status == 503) r.headers.set("Retry-After", "1");
    send_nowait(fd, serialize_head(r, r.body.size(), /*keep_alive=*/false) + r.body);
  }

  void close_conn(Conn* c) {
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    --open;
    conns.erase(c->fd);
  }

  void on_readable(Conn* c) {
    char buf[64 << 10];
    for (;;) {
      const ssize_t n = ::recv(c->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        c->in.append(buf, static_cast<size_t>(n));
        if (!parse(c)) return;  // dispatched or closed
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // The peer closed (or the connection broke) before a whole request: nothing to answer.
      c->peer_eof = true;
      return close_conn(c);
    }
  }

  // Feeds buffered bytes to the parser. False when the connection left the loop (handed to
  // a worker, or closed); true when it needs more bytes.
  bool parse(Conn* c) {
    while (!c->in.empty()) {
      const auto now = Clock::now();
      if (c->phase == Phase::kIdle) {
        c->phase = Phase::kHead;
        c->deadline = now + lim.head_timeout;
      }
      const size_t used = c->parser.feed(c->in);
      c->in.erase(0, used);
      const RequestParser& p = c->parser;
      if (p.state() == RequestParser::State::kError) {
        ++malformed;
        send_error(c->fd, p.error_status(), p.error_message());
        close_conn(c);
        return false;
      }
      if (p.head_complete() && c->phase == Phase::kHead) {
        c->phase = Phase::kBody;
        c->body_start = now;
        if (p.expects_continue() && !c->sent_continue &&
            p.state() != RequestParser::State::kComplete) {
          send_nowait(c->fd, "HTTP/1.1 100 Continue\r\n\r\n");
          c->sent_continue = true;
        }
      }
      if (c->phase == Phase::kBody) {
        // The body's deadline grows with its size: slow is fine, a trickle is not.
        const size_t size = p.content_length().value_or(p.body_bytes());
        c->deadline =
            c->body_start + lim.body_timeout +
            std::chrono::milliseconds(size * 1000 / std::max<size_t>(lim.min_body_rate, 1));
      }
      if (p.state() == RequestParser::State::kComplete) {
        dispatch(c);
        return false;
      }
      if (used == 0) break;
    }
    return true;
  }

  void dispatch(Conn* c) {
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c->fd, nullptr);
    c->phase = Phase::kHandler;
    c->keep_alive = c->parser.keep_alive();
    c->http10 = c->parser.http10();
    Request req = c->parser.take();
    c->head_request = req.method == "HEAD";
    c->parser = RequestParser(lim.parser);
    c->sent_continue = false;
    ++requests;
    {
      std::lock_guard<std::mutex> l(jobs_mu);
      jobs.push_back({c, std::move(req)});
    }
    jobs_cv.notify_one();
  }

  // Connections back from the workers: kept ones wait for their next request (which may
  // already be buffered), the others close.
  void take_returned() {
    std::vector<std::pair<Conn*, bool>> back;
    {
      std::lock_guard<std::mutex> l(back_mu);
      back.swap(returned);
    }
    for (auto [c, keep] : back) {
      if (!keep) {
        ::close(c->fd);
        --open;
        conns.erase(c->fd);
        continue;
      }
      c->phase = Phase::kIdle;
      c->deadline = Clock::now() + lim.idle_timeout;
      watch(c->fd);
      if (!c->in.empty()) parse(c);
    }
  }

  void expire(Clock::time_point now) {
    std::vector<Conn*> late;
    for (auto& [fd, c] : conns)
      if (c->phase != Phase::kHandler && now >= c->deadline) late.push_back(c.get());
    for (Conn* c : late) {
      ++timed_out;
      // An idle keep-alive connection just closes; a request cut off mid-way hears why.
      if (c->phase != Phase::kIdle)
        send_error(c->fd, 408,
                   c->phase == Phase::kHead ? "the request head did not arrive in time"
                                            : "the request body did not arrive in time");
      close_conn(c);
    }
  }

  // ---- the workers ----

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> l(jobs_mu);
        jobs_cv.wait(l, [&] { return jobs_closed || !jobs.empty(); });
        if (jobs.empty()) return;
        job = std::move(jobs.front());
        jobs.pop_front();
      }
      const bool keep = serve(job.conn, job.req);
      {
        std::lock_guard<std::mutex> l(back_mu);
        returned.emplace_back(job.conn, keep && !stopping.load());
      }
      const uint64_t one = 1;
      (void)!::write(wake_fd, &one, sizeof one);
    }
  }

  // Runs the handler and writes its response; true when the connection can take another
  // request.
  bool serve(Conn* c, Request& req) {
    const int fd = c->fd;
    req.client_gone = [fd] { return peer_closed(fd); };
    const auto t0 = Clock::now();
    Response res;
    try {
      res = handler(req);
    } catch (const std::exception& e) {
      log::error("http handler threw",
                 {{"listener", name}, {"path", req.path}, {"what", e.what()}});
      res = error_page(500, std::string("internal error: ") + e.what());
    }
    bool keep = c->keep_alive && !stopping.load();
    bool ok;
    if (res.stream && !c->head_request) {
      // HTTP/1.0 has no chunks: the body ends with the connection.
      if (c->http10) keep = false;
      ok = send_all(fd, serialize_head(res, std::nullopt, keep), lim.write_timeout);
      if (ok) {
        ChunkedSink sink(fd, !c->http10, lim.write_timeout);
        res.stream(sink);
        ok = sink.finish();
      }
    } else {
      std::string out = serialize_head(res, res.stream ? 0 : res.body.size(), keep);
      if (!c->head_request) out += res.body;
      ok = send_all(fd, out, lim.write_timeout);
    }
    log::debug(
        "http",
        {{"listener", name},
         {"method", req.method},
         {"path", req.path},
         {"status", std::to_string(res.status)},
         {"ms",
          std::to_string(
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count())}});
    return ok && keep;
  }
};

Server::Server(std::string name, std::function<Response(const Request&)> handler,
               ServerLimits limits, ErrorPage error_page)
    : impl_(std::make_unique<Impl>(std::move(name), std::move(handler), limits,
                                   std::move(error_page))) {}

Server::~Server() {
  stop();
}

Status Server::bind(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string where = host + ":" + std::to_string(port);
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
      rc != 0)
    return Error{"cannot listen on " + where + ": " + ::gai_strerror(rc)};
  std::string last_error = "no address";
  int fd = -1;
  for (addrinfo* a = res; a; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) == 0 && ::listen(fd, 1024) == 0) break;
    last_error = std::strerror(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return Error{"cannot listen on " + where + ": " + last_error};
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  impl_->bound_port =
      ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                     : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  impl_->listen_fd = fd;
  return Status::Ok();
}

int Server::port() const {
  return impl_->bound_port.load();
}

void Server::start() {
  Impl& m = *impl_;
  TURBINE_CHECK(m.listen_fd >= 0 && !m.running.load());
  m.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  TURBINE_CHECK(m.epoll_fd >= 0 && m.wake_fd >= 0);
  m.watch(m.listen_fd);
  m.watch(m.wake_fd);
  m.running = true;
  for (int i = 0; i < std::max(1, m.lim.workers); ++i) m.workers.emplace_back([&m] { m.work(); });
  m.loop_thread = std::thread([&m] { m.loop(); });
}

void Server::stop() {
  Impl& m = *impl_;
  if (!m.running.exchange(false)) return;
  m.stopping = true;
  const uint64_t one = 1;
  (void)!::write(m.wake_fd, &one, sizeof one);
  if (m.loop_thread.joinable()) m.loop_thread.join();
  ::close(m.listen_fd);
  m.listen_fd = -1;
  {
    std::lock_guard<std::mutex> l(m.jobs_mu);
    m.jobs_closed = true;
  }
  m.jobs_cv.notify_all();
  for (auto& w : m.workers) w.join();
  m.workers.clear();
  for (auto& [fd, c] : m.conns) ::close(fd);
  m.open -= static_cast<int>(m.conns.size());
  m.conns.clear();
}

bool Server::running() const {
  return impl_->running.load();
}

ServerStats Server::stats() const {
  const Impl& m = *impl_;
  return {m.accepted.load(),  m.rejected_full.load(), m.timed_out.load(),
          m.malformed.load(), m.requests.load(),      m.open.load()};
}

}  // namespace turbine::http
