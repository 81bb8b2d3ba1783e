#include "engine/server/http_server.h"

#include <httplib.h>

#include <thread>

#include "base/http/router.h"
#include "base/log.h"
#include "engine/server/api_routes.h"
#include "engine/server/rejection.h"

namespace turbine {

namespace {

// cpp-httplib's DataSink as a StreamSink.
class HttplibSink : public http::StreamSink {
 public:
  explicit HttplibSink(httplib::DataSink& sink) : sink_(sink) {}
  bool write(std::string_view data) override { return sink_.write(data.data(), data.size()); }
  bool client_gone() override { return !sink_.is_writable(); }

 private:
  httplib::DataSink& sink_;
};

http::Request to_request(const httplib::Request& in) {
  http::Request r;
  r.method = in.method;
  r.path = in.path;
  for (const auto& [k, v] : in.headers) r.headers.add(k, v);
  r.body = in.body;
  return r;
}

void send(const http::Response& in, httplib::Response& out) {
  out.status = in.status;
  for (const auto& [k, v] : in.headers.fields()) out.set_header(k, v);
  if (!in.stream) return out.set_content(in.body, in.content_type);
  // The handler pushes; httplib pulls: the whole stream runs inside the first pull.
  out.set_chunked_content_provider(in.content_type, [stream = in.stream](size_t, httplib::DataSink& sink) {
    HttplibSink s(sink);
    stream(s);
    sink.done();
    return true;
  });
}

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  ServerOptions opt;
  ApiRoutes routes;
  http::Router router{&ApiRoutes::error_page};
  httplib::Server http;
  std::atomic<int> port{0};

  Impl(Engine& e, const Tokenizer& t, ServerOptions o, EngineMetrics* m, const std::atomic<bool>& draining)
      : engine(e), opt(std::move(o)), routes(e, t, opt.api, m, draining) {
    routes.add_probe_routes(router);
    routes.add_api_routes(router);
    install();
  }

  void install() {
    http.new_task_queue = [n = opt.http_threads] { return new httplib::ThreadPool(n); };
    http.set_payload_max_length(opt.api.max_body_bytes);
    http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
      if (!res.body.empty() || res.status != 413) return;
      send(error_response(ApiError::too_large("The request body exceeds " +
                                              std::to_string(opt.api.max_body_bytes) + " bytes.")),
           res);
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
      std::string what = "unknown";
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      log::error("handler exception", {{"what", what}});
      send(error_response(ApiError::internal("internal error: " + what)), res);
    });
    http.set_logger([](const httplib::Request& req, const httplib::Response& res) {
      log::debug("http", {{"method", req.method}, {"path", req.path}, {"status", std::to_string(res.status)}});
    });
    const auto dispatch = [this](const httplib::Request& req, httplib::Response& res) {
      send(router.dispatch(to_request(req)), res);
    };
    // Every path goes to the router, which answers 404/405 itself.
    http.Get(".*", dispatch);
    http.Post(".*", dispatch);
    http.Put(".*", dispatch);
    http.Delete(".*", dispatch);
    http.Patch(".*", dispatch);
  }
};

HttpServer::HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerOptions opt,
                       EngineMetrics* metrics)
    : impl_(std::make_unique<Impl>(engine, tokenizer, std::move(opt), metrics, draining_)) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::listen() {
  auto& o = impl_->opt;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
    if (port <= 0) return false;
  } else if (!impl_->http.bind_to_port(o.host, port)) {
    log::error("cannot listen", {{"host", o.host}, {"port", std::to_string(port)}});
    return false;
  }
  impl_->port = port;
  log::info("listening", {{"host", o.host}, {"port", std::to_string(port)}, {"model", o.api.model_id}});
  return impl_->http.listen_after_bind();
}

int HttpServer::bound_port() const { return impl_->port.load(); }

void HttpServer::drain_and_stop() {
  draining_ = true;
  log::info("draining", {{"in_flight", std::to_string(impl_->engine.in_flight())}});
  auto deadline = std::chrono::steady_clock::now() + impl_->opt.drain_timeout;
  while (impl_->engine.in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int left = impl_->engine.in_flight();
  if (left > 0) {
    // Out of time: end what is still running so its handlers return (with an error) rather
    // than hold the listener's worker threads until their own deadlines.
    log::warn("drain timeout reached; ending in-flight requests", {{"in_flight", std::to_string(left)}});
    impl_->engine.stop();
  }
  // Let the handlers write their last bytes.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  log::info("drained", {{"in_flight", std::to_string(impl_->engine.in_flight())}});
  stop();
}

void HttpServer::stop() {
  if (impl_ && impl_->http.is_running()) impl_->http.stop();
}

}  // namespace turbine
