// base/http: header lookup and the router's 404/405/HEAD answers.
#include <gtest/gtest.h>

#include "base/http/router.h"

namespace turbine::http {
namespace {

Request req(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

TEST(Headers, NamesCompareCaseInsensitivelyAndSetReplaces) {
  Headers h;
  h.add("Content-Type", "application/json");
  h.add("X-A", "1");
  h.add("x-a", "2");
  EXPECT_EQ(h.get("content-type"), "application/json");
  EXPECT_EQ(h.get("X-A"), "1");  // the first of several
  EXPECT_TRUE(h.has("CONTENT-TYPE"));
  EXPECT_FALSE(h.has("Content-Length"));
  EXPECT_EQ(h.get("missing"), "");
  h.set("X-a", "3");
  EXPECT_EQ(h.get("x-A"), "3");
  EXPECT_EQ(h.fields().size(), 2u);
}

TEST(Router, DispatchesByMethodAndExactPath) {
  Router r;
  r.get("/a", [](const Request&) { return Response::text(200, "get a"); });
  r.post("/a", [](const Request&) { return Response::text(201, "post a"); });
  r.get("/b", [](const Request&) { return Response::text(200, "get b"); });
  const struct {
    const char* method;
    const char* path;
    int status;
    const char* body;
    const char* allow;
  } cases[] = {
      {"GET", "/a", 200, "get a", ""},
      {"POST", "/a", 201, "post a", ""},
      {"GET", "/b", 200, "get b", ""},
      {"GET", "/a/", 404, "Not Found\n", ""},
      {"GET", "/", 404, "Not Found\n", ""},
      {"DELETE", "/a", 405, "Method Not Allowed\n", "GET, POST"},
      {"POST", "/b", 405, "Method Not Allowed\n", "GET"},
      {"HEAD", "/b", 200, "get b", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path);
    Response res = r.dispatch(req(c.method, c.path));
    EXPECT_EQ(res.status, c.status);
    EXPECT_EQ(res.body, c.body);
    EXPECT_EQ(res.headers.get("Allow"), c.allow);
  }
}

TEST(Router, TheOwnerShapesTheErrorPages) {
  Router r([](int status, const Request& q) {
    return Response::text(status, "{\"error\":\"" + std::to_string(status) + " " + q.path + "\"}",
                          "application/json");
  });
  r.get("/x", [](const Request&) { return Response::text(200, "x"); });
  Response res = r.dispatch(req("GET", "/nope"));
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body, "{\"error\":\"404 /nope\"}");
  EXPECT_EQ(res.content_type, "application/json");
  res = r.dispatch(req("PUT", "/x"));
  EXPECT_EQ(res.status, 405);
  EXPECT_EQ(res.headers.get("Allow"), "GET");
}

TEST(ReasonPhrase, KnownAndUnknown) {
  EXPECT_EQ(reason_phrase(429), "Too Many Requests");
  EXPECT_EQ(reason_phrase(413), "Content Too Large");
  EXPECT_EQ(reason_phrase(299), "Unknown");
}

}  // namespace
}  // namespace turbine::http
