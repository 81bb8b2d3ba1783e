// The Prometheus text parser: what the engine's page looks like, the corners of the format
// (escapes, histograms, special values), and errors. A corpus is also checked against
// promtool (Prometheus's own parser) when it is installed: both must accept or reject the
// same texts.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "sidecar/engine_load.h"
#include "sidecar/prom_parser.h"

namespace turbine::autoscaler {
namespace {

PromText parse_ok(std::string_view text) {
  auto r = parse_prom_text(text);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error()) << "\n" << text;
  return r.ok() ? *r : PromText{};
}

TEST(PromParser, EnginePage) {
  const char* page =
      "# HELP turbine_requests_waiting Requests queued.\n"
      "# TYPE turbine_requests_waiting gauge\n"
      "turbine_requests_waiting 3\n"
      "# TYPE turbine_kv_cache_blocks gauge\n"
      "turbine_kv_cache_blocks{state=\"free\"} 120\n"
      "turbine_kv_cache_blocks{state=\"used\"} 8\n"
      "# TYPE turbine_requests_total counter\n"
      "turbine_requests_total{finish_reason=\"stop\"} 17 1700000000000\n"
      "\n"
      "# TYPE turbine_time_to_first_token_seconds histogram\n"
      "turbine_time_to_first_token_seconds_bucket{le=\"0.1\"} 2\n"
      "turbine_time_to_first_token_seconds_bucket{le=\"+Inf\"} 5\n"
      "turbine_time_to_first_token_seconds_sum 1.25\n"
      "turbine_time_to_first_token_seconds_count 5\n";
  PromText t = parse_ok(page);
  ASSERT_EQ(t.samples.size(), 8u);
  EXPECT_EQ(t.helps.at("turbine_requests_waiting"), "Requests queued.");
  EXPECT_EQ(t.types.at("turbine_time_to_first_token_seconds"), "histogram");
  EXPECT_EQ(*t.sum("turbine_kv_cache_blocks"), 128);
  EXPECT_FALSE(t.sum("absent").has_value());
  auto req = t.find("turbine_requests_total");
  ASSERT_EQ(req.size(), 1u);
  EXPECT_EQ(req[0]->timestamp_ms, 1700000000000);
  EXPECT_EQ(*req[0]->label("finish_reason"), "stop");
  EXPECT_FALSE(req[0]->label("model").has_value());

  auto buckets = t.find("turbine_time_to_first_token_seconds_bucket");
  ASSERT_EQ(buckets.size(), 2u);
  EXPECT_EQ(*buckets[1]->label("le"), "+Inf");
  EXPECT_EQ(t.family_of("turbine_time_to_first_token_seconds_bucket"),
            "turbine_time_to_first_token_seconds");
  EXPECT_EQ(t.family_of("turbine_time_to_first_token_seconds_count"),
            "turbine_time_to_first_token_seconds");
  // Only histogram/summary families swallow their suffixes.
  EXPECT_EQ(t.family_of("turbine_requests_total"), "turbine_requests_total");
  EXPECT_EQ(t.family_of("other_count"), "other_count");
}

TEST(PromParser, LabelEscapesAndOddSpacing) {
  PromText t = parse_ok(
      "m{path=\"C:\\\\dir\",quote=\"say \\\"hi\\\"\",nl=\"a\\nb\",utf=\"é\",} 1\n"
      "m2{ a = \"x\" , b=\"\"}2\n"
      "m3{} 3\n"
      "   m4 4\n");
  ASSERT_EQ(t.samples.size(), 4u);
  const PromSample& s = t.samples[0];
  EXPECT_EQ(*s.label("path"), "C:\\dir");
  EXPECT_EQ(*s.label("quote"), "say \"hi\"");
  EXPECT_EQ(*s.label("nl"), "a\nb");
  EXPECT_EQ(*s.label("utf"), "é");
  EXPECT_EQ(s.labels.size(), 4u);
  EXPECT_EQ(*t.samples[1].label("a"), "x");
  EXPECT_EQ(*t.samples[1].label("b"), "");
  EXPECT_EQ(t.samples[1].value, 2);
  EXPECT_TRUE(t.samples[2].labels.empty());
  EXPECT_EQ(t.samples[3].value, 4);
}

TEST(PromParser, HelpEscapesAndComments) {
  PromText t = parse_ok(
      "# HELP m first\\nsecond back\\\\slash \\t kept\n"
      "# a free comment with { and \"\n"
      "#TYPE m gauge\n"
      "# TYPE other\n"
      "m 1\n");
  EXPECT_EQ(t.helps.at("m"), "first\nsecond back\\slash \\t kept");
  EXPECT_EQ(t.types.at("m"), "gauge");
  EXPECT_EQ(t.types.count("other"), 0u);
}

TEST(PromParser, SpecialValues) {
  PromText t =
      parse_ok("a NaN\nb +Inf\nc -Inf\nd 1e-3\ne -0\nf .5\ng 5.\nh +1.5E3\ni inf\nj -Infinity\n");
  EXPECT_TRUE(std::isnan(t.samples[0].value));
  EXPECT_EQ(t.samples[1].value, INFINITY);
  EXPECT_EQ(t.samples[2].value, -INFINITY);
  EXPECT_DOUBLE_EQ(t.samples[3].value, 0.001);
  EXPECT_EQ(t.samples[4].value, 0);
  EXPECT_TRUE(std::signbit(t.samples[4].value));
  EXPECT_DOUBLE_EQ(t.samples[5].value, 0.5);
  EXPECT_DOUBLE_EQ(t.samples[6].value, 5);
  EXPECT_DOUBLE_EQ(t.samples[7].value, 1500);
  EXPECT_EQ(t.samples[8].value, INFINITY);
  EXPECT_EQ(t.samples[9].value, -INFINITY);
  EXPECT_FALSE(parse_prom_float("0x1F"));
  EXPECT_FALSE(parse_prom_float("1_000"));
  EXPECT_FALSE(parse_prom_float(""));
  EXPECT_FALSE(parse_prom_float("1e999"));
}

struct BadCase {
  const char* text;
  const char* message;  // a fragment of the error
};

TEST(PromParser, MalformedLinesNameTheLineAndTheProblem) {
  const BadCase cases[] = {
      {"ok 1\nm{l=\"x} 1\n", "line 2: unterminated label value"},
      {"m{l=\"\\q\"} 1\n", "line 1: invalid escape '\\q'"},
      {"m{l=x} 1\n", "expected '\"'"},
      {"m{l=\"x\" k=\"y\"} 1\n", "expected ',' or '}'"},
      {"m{,} 1\n", "expected a label name"},
      {"m{1l=\"v\"} 1\n", "expected a label name"},
      {"m{l=\"1\",l=\"2\"} 1\n", "duplicate label l"},
      {"m{__name__=\"x\"} 1\n", "reserved"},
      {"m abc\n", "invalid value 'abc'"},
      {"m\n", "missing value"},
      {"m 1 2 3\n", "after the timestamp"},
      {"m 1 1.5\n", "invalid timestamp"},
      {"1m 1\n", "expected a metric name"},
      {"m-x 1\n", "after the metric name"},
      {"# TYPE m gaugex\n", "unknown metric type 'gaugex'"},
      {"# TYPE m gauge\n# TYPE m counter\n", "line 2: second TYPE"},
      {"# HELP m a\n# HELP m b\n", "second HELP"},
      {"m 1\n# TYPE m gauge\n", "after its samples"},
      {"m 1\r\n", "invalid value"},
      {"# HELP\n", "expected a metric name"},
  };
  for (const auto& c : cases) {
    auto r = parse_prom_text(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().find(c.message), std::string::npos)
        << "text: " << c.text << "error: " << r.error();
  }
}

TEST(EngineLoad, FromAnEnginePage) {
  PromText t = parse_ok(
      "turbine_requests_waiting 6\n"
      "turbine_requests_running 3\n"
      "turbine_kv_cache_usage_ratio 0.75\n"
      "turbine_preemptions_total 12\n"
      "turbine_requests_total{finish_reason=\"stop\"} 40\n"
      "turbine_requests_total{finish_reason=\"length\"} 2\n"
      "turbine_prompt_tokens_total 9000\n"
      "turbine_prefill_tokens_waiting 1500\n"
      "turbine_device_memory_bytes{device=\"0\",kind=\"used\"} 70e9\n"
      "turbine_device_memory_bytes{device=\"0\",kind=\"total\"} 80e9\n"
      "turbine_device_memory_bytes{device=\"1\",kind=\"used\"} 75e9\n"
      "turbine_device_memory_bytes{device=\"1\",kind=\"total\"} 80e9\n");
  auto load = engine_load_from(t);
  ASSERT_TRUE(load.ok()) << load.error();
  EXPECT_EQ(load->waiting, 6);
  EXPECT_EQ(load->running, 3);
  EXPECT_EQ(load->kv_usage, 0.75);
  EXPECT_EQ(*load->preemptions_total, 12);
  EXPECT_EQ(*load->finished_total, 42);  // every finish reason
  EXPECT_EQ(*load->prompt_tokens_total, 9000);
  EXPECT_EQ(*load->prefill_tokens_waiting, 1500);
  EXPECT_DOUBLE_EQ(*load->free_device_bytes, 5e9);  // the tighter device
}

TEST(EngineLoad, MissingOrBrokenGaugesAreMissingDataNotIdleness) {
  EXPECT_FALSE(engine_load_from(parse_ok("turbine_requests_waiting 0\n")).ok());
  EXPECT_FALSE(engine_load_from(parse_ok("turbine_kv_cache_usage_ratio 0\n")).ok());
  EXPECT_FALSE(engine_load_from(parse_ok("turbine_requests_waiting NaN\n"
                                         "turbine_kv_cache_usage_ratio 0\n"))
                   .ok());
  auto ok =
      engine_load_from(parse_ok("turbine_requests_waiting 0\n"
                                "turbine_kv_cache_usage_ratio 1.7\n"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->kv_usage, 1.0);  // clamped
  EXPECT_FALSE(ok->free_device_bytes.has_value());
  EXPECT_FALSE(ok->preemptions_total.has_value());
  EXPECT_FALSE(ok->finished_total.has_value());  // an older engine: the ratio rule decides
}

TEST(EngineLoad, CounterRates) {
  using namespace std::chrono;
  CounterRates r;
  auto t0 = steady_clock::time_point{} + hours(1);
  EXPECT_EQ(r.update("a", "p", t0, 10.0), std::nullopt);  // first sight: no rate yet
  EXPECT_DOUBLE_EQ(*r.update("a", "p", t0 + seconds(5), 20.0), 2.0);
  EXPECT_EQ(r.update("a", "p", t0 + seconds(10), 3.0), std::nullopt);  // reset: restarted
  EXPECT_DOUBLE_EQ(*r.update("a", "p", t0 + seconds(12), 4.0), 0.5);
  // Counters of one pod are independent, and so are pods.
  EXPECT_EQ(r.update("a", "f", t0 + seconds(12), 100.0), std::nullopt);
  EXPECT_DOUBLE_EQ(*r.update("a", "f", t0 + seconds(14), 110.0), 5.0);
  EXPECT_EQ(r.update("b", "p", t0 + seconds(14), 4.0), std::nullopt);
  EXPECT_EQ(r.update("a", "p", t0 + seconds(14), std::nullopt), std::nullopt);
  EXPECT_EQ(r.update("a", "p", t0 + seconds(16), 9.0), std::nullopt);  // forgotten with the gap
  r.forget_older_than(t0 + seconds(20));
  EXPECT_EQ(r.update("a", "p", t0 + seconds(21), 19.0), std::nullopt);
}

// ---- the same corpus through promtool ------------------------------------------------------

// promtool check metrics: 0 = clean, 3 = lint findings (parsed fine), 1 = parse error.
int promtool_rc(const std::string& text) {
  char path[] = "/tmp/turbine_prom_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  ::write(fd, text.data(), text.size());
  ::close(fd);
  std::string cmd = std::string("promtool check metrics < ") + path + " > /dev/null 2>&1";
  int status = std::system(cmd.c_str());
  std::remove(path);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(PromParser, AgreesWithPromtoolOnWhatIsValid) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  const char* corpus[] = {
      "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"x\\\"y\"} 1\n",
      "a{} 1\n",
      "   a 1\n",
      "a{l=\"v\"}1\n",
      "a{ l = \"v\" } 1\n",
      "a{l=\"v\",} 1\n",
      "a NaN\nb +Inf\nc -Inf\nd 1e-3\n",
      "a Inf\nb nan\nc .5\nd 5.\n",
      "a 1 -5\n",
      "a:b 1\n",
      "a{l=\"é\"} 1\n",
      "# HELP a x\\ny\n",
      "# TYPE a\n",
      "#comment\n",
      "# TYPE a histogram\na_bucket{le=\"+Inf\"} 1\na_sum 1\na_count 1\n",
      "a{l=\"x} 1\n",
      "a{l=\"\\q\"} 1\n",
      "a 1 2 3\n",
      "a abc\n",
      "a\n",
      "a{l=x} 1\n",
      "a{l=\"x\" m=\"y\"} 1\n",
      "1a 1\n",
      "# TYPE a gaugex\n",
      "a{l=\"1\",l=\"2\"} 1\n",
      "# TYPE a counter\n# TYPE a counter\n",
      "a 1 1.5\n",
      "a 1\n# TYPE a gauge\n",
      "a 0x1F\n",
      "a 1_000\n",
      "a{__name__=\"b\"} 1\n",
      "# HELP a x\n# HELP a y\n",
      "a{1l=\"v\"} 1\n",
      "a{l=\"v\",,} 1\n",
      "a{l=\"v\"} 1\r\n",
  };
  for (const char* text : corpus) {
    int rc = promtool_rc(text);
    ASSERT_TRUE(rc == 0 || rc == 1 || rc == 3) << "promtool failed to run: " << rc;
    bool promtool_ok = rc != 1;
    auto ours = parse_prom_text(text);
    EXPECT_EQ(ours.ok(), promtool_ok)
        << "text: " << text << "ours: " << (ours.ok() ? "ok" : ours.error());
  }
}

}  // namespace
}  // namespace turbine::autoscaler
