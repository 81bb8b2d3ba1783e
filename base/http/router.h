// Method + exact path -> handler, with the error answers a router owes: 404 for an unknown
// path, 405 (with Allow) for a known path and another method. How those errors look (JSON
// for the OpenAI API, text for the sidecar) is the owner's choice.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "base/http/message.h"

namespace turbine::http {

using Handler = std::function<Response(const Request&)>;

class Router {
 public:
  // Builds the 404/405 answers; `status` is 404 or 405, `allow` lists the methods of a
  // known path for 405 ("GET, POST").
  using ErrorPage = std::function<Response(int status, const Request&)>;

  explicit Router(ErrorPage error_page = nullptr);

  void add(std::string method, std::string path, Handler h);
  void get(std::string path, Handler h) { add("GET", std::move(path), std::move(h)); }
  void post(std::string path, Handler h) { add("POST", std::move(path), std::move(h)); }

  // The handler's response; HEAD is served by a GET handler without the body.
  Response dispatch(const Request& req) const;

 private:
  std::map<std::string, std::map<std::string, Handler>> routes_;  // path -> method -> handler
  ErrorPage error_page_;
};

}  // namespace turbine::http
