// Exposition text of each metric kind, registry rules, and hot-path thread safety.
#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <thread>
#include <vector>

#include "base/metrics/registry.h"

namespace turbine::metrics {
namespace {

TEST(Exposition, CounterFamily) {
  Registry r;
  auto& f = r.counter_family("test_requests_total", "Requests served.", {"method", "code"});
  f.with({"POST", "500"}).inc();
  f.with({"GET", "200"}).inc(2);
  f.with({"GET", "200"}).inc(0.5);
  EXPECT_EQ(r.expose(),
            "# HELP test_requests_total Requests served.\n"
            "# TYPE test_requests_total counter\n"
            "test_requests_total{method=\"GET\",code=\"200\"} 2.5\n"
            "test_requests_total{method=\"POST\",code=\"500\"} 1\n");
}

TEST(Exposition, LabelLessMetricsAppearAtZeroAndFamiliesSortByName) {
  Registry r;
  r.gauge("zz_gauge", "Last.");
  r.counter("aa_total", "First.");
  EXPECT_EQ(r.expose(),
            "# HELP aa_total First.\n"
            "# TYPE aa_total counter\n"
            "aa_total 0\n"
            "# HELP zz_gauge Last.\n"
            "# TYPE zz_gauge gauge\n"
            "zz_gauge 0\n");
}

TEST(Exposition, GaugeSpecialValuesAndEscaping) {
  Registry r;
  auto& f = r.gauge_family("test_gauge", "Help with \\ and\nnewline \"quoted\".", {"path"});
  f.with({"C:\\dir"}).set(-1.5);
  f.with({"say \"hi\""}).set(std::numeric_limits<double>::infinity());
  f.with({"two\nlines"}).set(std::numeric_limits<double>::quiet_NaN());
  f.with({"z"}).set(-std::numeric_limits<double>::infinity());
  auto& g = f.with({"inc"});
  g.inc(3);
  g.dec(0.25);
  EXPECT_EQ(r.expose(),
            "# HELP test_gauge Help with \\\\ and\\nnewline \"quoted\".\n"
            "# TYPE test_gauge gauge\n"
            "test_gauge{path=\"C:\\\\dir\"} -1.5\n"
            "test_gauge{path=\"inc\"} 2.75\n"
            "test_gauge{path=\"say \\\"hi\\\"\"} +Inf\n"
            "test_gauge{path=\"two\\nlines\"} NaN\n"
            "test_gauge{path=\"z\"} -Inf\n");
}

TEST(Exposition, Histogram) {
  Registry r;
  auto& f = r.histogram_family("test_latency_seconds", "Latency.", {"route"}, {0.1, 0.5, 2.5});
  Histogram& h = f.with({"/a"});
  for (double v : {0.05, 0.1, 0.3, 1.0, 100.0}) h.observe(v);  // 0.1 is inclusive (le)
  f.with({"/b"});
  EXPECT_EQ(r.expose(),
            "# HELP test_latency_seconds Latency.\n"
            "# TYPE test_latency_seconds histogram\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 3\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"2.5\"} 4\n"
            "test_latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 5\n"
            "test_latency_seconds_sum{route=\"/a\"} 101.45\n"
            "test_latency_seconds_count{route=\"/a\"} 5\n"
            "test_latency_seconds_bucket{route=\"/b\",le=\"0.1\"} 0\n"
            "test_latency_seconds_bucket{route=\"/b\",le=\"0.5\"} 0\n"
            "test_latency_seconds_bucket{route=\"/b\",le=\"2.5\"} 0\n"
            "test_latency_seconds_bucket{route=\"/b\",le=\"+Inf\"} 0\n"
            "test_latency_seconds_sum{route=\"/b\"} 0\n"
            "test_latency_seconds_count{route=\"/b\"} 0\n");
}

TEST(Exposition, LabelLessHistogram) {
  Registry r;
  Histogram& h = r.histogram("test_seconds", "S.", {1});
  h.observe(2);
  EXPECT_EQ(r.expose(),
            "# HELP test_seconds S.\n"
            "# TYPE test_seconds histogram\n"
            "test_seconds_bucket{le=\"1\"} 0\n"
            "test_seconds_bucket{le=\"+Inf\"} 1\n"
            "test_seconds_sum 2\n"
            "test_seconds_count 1\n");
  EXPECT_EQ(h.count(), 1u);
  EXPECT_EQ(h.bucket_counts(), (std::vector<uint64_t>{0, 1}));
}

TEST(Registry, SameRegistrationReturnsTheSameFamily) {
  Registry r;
  Counter& a = r.counter("x_total", "X.");
  Counter& b = r.counter("x_total", "X.");
  EXPECT_EQ(&a, &b);
  auto& h1 = r.histogram_family("h_seconds", "H.", {"a"}, {1, 2});
  auto& h2 = r.histogram_family("h_seconds", "H.", {"a"}, {1, 2});
  EXPECT_EQ(&h1, &h2);
  // Same family, same child: references stay stable as more children are added.
  Counter& c1 = r.counter_family("y_total", "Y.", {"k"}).with({"1"});
  for (int i = 0; i < 100; ++i) r.counter_family("y_total", "Y.", {"k"}).with({std::to_string(i)});
  EXPECT_EQ(&c1, &r.counter_family("y_total", "Y.", {"k"}).with({"1"}));
}

TEST(RegistryDeathTest, ProgrammingErrorsAbort) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("x_total", "X.");
        r.gauge("x_total", "X.");
      },
      "check failed");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("bad-name", "X.");
      },
      "check failed");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter_family("x_total", "X.", {"a"}).with({"1", "2"});
      },
      "check failed");
  EXPECT_DEATH(
      {
        Registry r;
        r.histogram("h", "H.", {2, 1});
      },
      "check failed");
  EXPECT_DEATH(
      {
        Registry r;
        r.histogram_family("h", "H.", {"le"}, {1});
      },
      "check failed");
  EXPECT_DEATH(
      {
        Registry r;
        r.counter("c_total", "C.").inc(-1);
      },
      "check failed");
}

TEST(Registry, CollectorsRunBeforeEachExposition) {
  Registry r;
  Gauge& g = r.gauge("g", "G.");
  int calls = 0;
  r.add_collector([&] { g.set(++calls); });
  EXPECT_NE(r.expose().find("g 1\n"), std::string::npos);
  EXPECT_NE(r.expose().find("g 2\n"), std::string::npos);
}

TEST(Registry, DefaultRegistryIsOneObject) {
  EXPECT_EQ(&default_registry(), &default_registry());
}

// Many threads hammer the same children while another scrapes: totals are exact and every
// scrape is self-consistent (le="+Inf" equals _count).
TEST(Concurrency, TotalsAreExact) {
  Registry r;
  Counter& c = r.counter("c_total", "C.");
  Gauge& g = r.gauge("g", "G.");
  auto& fam = r.counter_family("l_total", "L.", {"t"});
  Histogram& h = r.histogram("h_seconds", "H.", {0.5, 1.5});
  constexpr int kThreads = 8;
  constexpr int kIters = 20000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      const std::string page = r.expose();
      auto value_after = [&](const std::string& key) {
        size_t p = page.find(key);
        EXPECT_NE(p, std::string::npos) << key;
        return std::stoull(page.substr(p + key.size()));
      };
      EXPECT_EQ(value_after("h_seconds_bucket{le=\"+Inf\"} "), value_after("h_seconds_count "));
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& mine = fam.with({t % 2 ? "odd" : "even"});
      for (int i = 0; i < kIters; ++i) {
        c.inc();
        g.inc(2);
        g.dec();
        mine.inc();
        h.observe(i % 3);  // 0, 1, 2 -> one per bucket
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();
  EXPECT_EQ(c.value(), kThreads * kIters);
  EXPECT_EQ(g.value(), kThreads * kIters);
  EXPECT_EQ(fam.with({"odd"}).value() + fam.with({"even"}).value(), kThreads * kIters);
  EXPECT_EQ(fam.with({"odd"}).value(), kThreads / 2 * kIters);
  EXPECT_EQ(h.count(), static_cast<uint64_t>(kThreads * kIters));
  const std::vector<uint64_t> b = h.bucket_counts();
  // i % 3 over 0..kIters-1: kIters = 20000 = 3*6666 + 2, so 0 and 1 get one extra each.
  EXPECT_EQ(b, (std::vector<uint64_t>{kThreads * 6667u, kThreads * 6667u, kThreads * 6666u}));
  EXPECT_EQ(h.sum(), kThreads * (6667.0 * 1 + 6666.0 * 2));
}

}  // namespace
}  // namespace turbine::metrics
