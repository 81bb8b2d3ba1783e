#include "base/http/router.h"

namespace turbine::http {

Router::Router(ErrorPage error_page) : error_page_(std::move(error_page)) {
  if (!error_page_)
    error_page_ = [](int status, const Request&) {
      return Response::text(status, std::string(reason_phrase(status)) + "\n");
    };
}

void Router::add(std::string method, std::string path, Handler h) {
  routes_[std::move(path)][std::move(method)] = std::move(h);
}

Response Router::dispatch(const Request& req) const {
  auto p = routes_.find(req.path);
  if (p == routes_.end()) return error_page_(404, req);
  const bool head = req.method == "HEAD";
  auto m = p->second.find(head ? "GET" : req.method);
  if (m == p->second.end()) {
    Response r = error_page_(405, req);
    std::string allow;
    for (const auto& [method, h] : p->second) allow += (allow.empty() ? "" : ", ") + method;
    r.headers.set("Allow", allow);
    return r;
  }
  Response r = m->second(req);
  if (head) {
    r.stream = nullptr;
    // The body's length is still announced; the server sends no body for HEAD.
  }
  return r;
}

}  // namespace turbine::http
