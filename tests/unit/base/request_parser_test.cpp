// The HTTP/1.1 request parser, rule by rule: every accepted form, every refusal's status,
// and the same request fed in every possible split (bytes arrive as they like).
#include <gtest/gtest.h>

#include <string>

#include "base/http/request_parser.h"

namespace turbine::http {
namespace {

using State = RequestParser::State;

struct Parsed {
  State state;
  int status = 0;
  size_t used = 0;
  Request req;
  RequestParser parser;
};

Parsed parse(std::string_view bytes, ParserLimits lim = {}) {
  Parsed p{State::kHead, 0, 0, {}, RequestParser(lim)};
  p.used = p.parser.feed(bytes);
  p.state = p.parser.state();
  p.status = p.parser.error_status();
  if (p.state == State::kComplete) p.req = p.parser.take();
  return p;
}

TEST(RequestParser, AcceptedForms) {
  const struct {
    const char* name;
    std::string bytes;
    const char* method;
    const char* path;
    const char* query;
    const char* body;
    bool keep_alive;
  } cases[] = {
      {"GET", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "/health", "", "", true},
      {"query split off", "GET /v1/models?a=1&b=2 HTTP/1.1\r\n\r\n", "GET", "/v1/models", "a=1&b=2",
       "", true},
      {"content-length body", "POST /v1/completions HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
       "POST", "/v1/completions", "", "hello", true},
      {"chunked body",
       "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n "
       "world\r\n0\r\n\r\n",
       "POST", "/x", "", "hello world", true},
      {"chunked with trailer",
       "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n",
       "POST", "/x", "", "abc", true},
      {"bare LF line ends", "GET /a HTTP/1.1\nHost: x\n\n", "GET", "/a", "", "", true},
      {"leading blank lines", "\r\n\r\nGET /a HTTP/1.1\r\n\r\n", "GET", "/a", "", "", true},
      {"connection close", "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n", "GET", "/a", "", "",
       false},
      {"HTTP/1.0 closes", "GET /a HTTP/1.0\r\n\r\n", "GET", "/a", "", "", false},
      {"HTTP/1.0 keep-alive", "GET /a HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET", "/a", "",
       "", true},
      {"absolute form", "GET http://host:8000/ready HTTP/1.1\r\n\r\n", "GET", "/ready", "", "",
       true},
      {"zero length", "POST /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "POST", "/x", "", "", true},
      {"repeated equal lengths",
       "POST /x HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok", "POST", "/x", "",
       "ok", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Parsed p = parse(c.bytes);
    ASSERT_EQ(p.state, State::kComplete) << p.parser.error_message();
    EXPECT_EQ(p.used, c.bytes.size());
    EXPECT_EQ(p.req.method, c.method);
    EXPECT_EQ(p.req.path, c.path);
    EXPECT_EQ(p.req.query, c.query);
    EXPECT_EQ(p.req.body, c.body);
    EXPECT_EQ(p.parser.keep_alive(), c.keep_alive);
  }
}

TEST(RequestParser, Refusals) {
  ParserLimits small;
  small.max_head_bytes = 64;
  small.max_headers = 3;
  small.max_body_bytes = 10;
  const struct {
    const char* name;
    std::string bytes;
    int status;
    ParserLimits lim;
  } cases[] = {
      {"no version", "GET /a\r\n\r\n", 400, {}},
      {"extra space", "GET  /a HTTP/1.1\r\n\r\n", 400, {}},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\n", 505, {}},
      {"not HTTP", "GET /a FTP/1.0\r\n\r\n", 400, {}},
      {"target not a path", "GET a HTTP/1.1\r\n\r\n", 400, {}},
      {"control byte in target", std::string("GET /a\x01 HTTP/1.1\r\n\r\n"), 400, {}},
      {"bad method", "G(T /a HTTP/1.1\r\n\r\n", 400, {}},
      {"header without colon", "GET /a HTTP/1.1\r\nHost x\r\n\r\n", 400, {}},
      {"space in header name", "GET /a HTTP/1.1\r\nHo st: x\r\n\r\n", 400, {}},
      {"obsolete folding", "GET /a HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400, {}},
      {"bad length", "POST /x HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 400, {}},
      {"negative length", "POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, {}},
      {"conflicting lengths",
       "POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
       400,
       {}},
      {"length and chunked (smuggling)",
       "POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       400,
       {}},
      {"gzip transfer coding", "POST /x HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, {}},
      {"bad chunk size", "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, {}},
      {"chunk without CRLF",
       "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
       400,
       {}},
      {"unknown expectation",
       "POST /x HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\n",
       417,
       {}},
      {"head over the limit", "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", 431, small},
      {"head over the limit, no end yet", "GET /" + std::string(100, 'a'), 431, small},
      {"too many headers", "GET /a HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, small},
      {"body over the limit by length", "POST /x HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413,
       small},
      {"chunked body over the limit",
       "POST /x HTTP/1.1\r\nTransfer-Encoding: "
       "chunked\r\n\r\n6\r\naaaaaa\r\n6\r\naaaaaa\r\n0\r\n\r\n",
       413, small},
      {"huge chunk size",
       "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
       400,
       {}},
      {"control byte in a value", std::string("GET /a HTTP/1.1\r\nX: a\x01\r\n\r\n"), 400, {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Parsed p = parse(c.bytes, c.lim);
    ASSERT_EQ(p.state, State::kError);
    EXPECT_EQ(p.status, c.status) << p.parser.error_message();
    EXPECT_FALSE(p.parser.error_message().empty());
  }
}

TEST(RequestParser, IncompleteInputWaits) {
  EXPECT_EQ(parse("GET /a HTTP/1.1\r\nHost: x\r\n").state, State::kHead);
  Parsed p = parse("POST /x HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(p.state, State::kBody);
  EXPECT_TRUE(p.parser.head_complete());
  EXPECT_EQ(p.parser.body_bytes(), 3u);
  EXPECT_EQ(p.parser.content_length(), 10u);
}

TEST(RequestParser, EverySplitGivesTheSameRequest) {
  const std::string reqs[] = {
      "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: "
      "11\r\n\r\n{\"a\":[1,2]}",
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\n",
      "GET /a HTTP/1.1\nX: y\n\n",
  };
  for (const auto& bytes : reqs) {
    const Parsed whole = parse(bytes);
    ASSERT_EQ(whole.state, State::kComplete);
    for (size_t a = 0; a <= bytes.size(); ++a)
      for (size_t b = a; b <= bytes.size(); b += 7) {
        RequestParser p;
        size_t used = p.feed(std::string_view(bytes).substr(0, a));
        used += p.feed(std::string_view(bytes).substr(used, b - used));
        used += p.feed(std::string_view(bytes).substr(used));
        ASSERT_EQ(p.state(), State::kComplete)
            << "split at " << a << "," << b << ": " << p.error_message();
        EXPECT_EQ(used, bytes.size());
        const Request r = p.take();
        EXPECT_EQ(r.body, whole.req.body);
        EXPECT_EQ(r.path, whole.req.path);
        EXPECT_EQ(r.headers.fields(), whole.req.headers.fields());
      }
  }
}

TEST(RequestParser, StopsAtTheEndOfOneRequest) {
  const std::string two = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  RequestParser p;
  const size_t used = p.feed(two);
  ASSERT_EQ(p.state(), State::kComplete);
  EXPECT_EQ(p.take().path, "/a");
  RequestParser next;
  EXPECT_EQ(next.feed(std::string_view(two).substr(used)), two.size() - used);
  EXPECT_EQ(next.take().path, "/b");
}

TEST(RequestParser, ExpectContinueIsReportedForABodyStillToCome) {
  Parsed p = parse("POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(p.state, State::kBody);
  EXPECT_TRUE(p.parser.expects_continue());
  Parsed none = parse("POST /x HTTP/1.1\r\nContent-Length: 4\r\n\r\n");
  EXPECT_FALSE(none.parser.expects_continue());
}

}  // namespace
}  // namespace turbine::http
