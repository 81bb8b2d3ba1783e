// The engine's metric names match docs/ARCHITECTURE.md ("Metrics") exactly, the tokens/s
// window works on a fake clock, and a populated page passes `promtool check metrics` when promtool is installed.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "engine/runtime/engine_metrics.h"
#include "base/metrics/rate_window.h"

namespace turbine {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

// name -> type, from the "# TYPE" lines.
std::map<std::string, std::string> types(const std::string& page) {
  std::map<std::string, std::string> out;
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# TYPE ", 0) != 0) continue;
    std::istringstream l(line.substr(7));
    std::string name, type;
    l >> name >> type;
    out[name] = type;
  }
  return out;
}

TEST(EngineMetrics, NamesAndTypesAreExactlyTheDesignOnes) {
  metrics::Registry r;
  EngineMetrics m(r);
  const std::map<std::string, std::string> want = {
      {"turbine_requests_waiting", "gauge"},
      {"turbine_requests_running", "gauge"},
      {"turbine_prefill_tokens_waiting", "gauge"},
      {"turbine_kv_cache_usage_ratio", "gauge"},
      {"turbine_kv_cache_blocks", "gauge"},
      {"turbine_device_memory_bytes", "gauge"},
      {"turbine_generation_tokens_per_second", "gauge"},
      {"turbine_build_info", "gauge"},
      {"turbine_prompt_tokens_total", "counter"},
      {"turbine_generation_tokens_total", "counter"},
      {"turbine_requests_total", "counter"},
      {"turbine_requests_rejected_total", "counter"},
      {"turbine_preemptions_total", "counter"},
      {"turbine_prefix_cache_queries_total", "counter"},
      {"turbine_prefix_cache_hits_total", "counter"},
      {"turbine_structured_requests_total", "counter"},
      {"turbine_grammar_compile_seconds", "histogram"},
      {"turbine_time_to_first_token_seconds", "histogram"},
      {"turbine_inter_token_latency_seconds", "histogram"},
      {"turbine_request_duration_seconds", "histogram"},
      {"turbine_queue_wait_seconds", "histogram"},
  };
  EXPECT_EQ(types(r.expose()), want);
  EXPECT_EQ(m.requests_total.label_names(), std::vector<std::string>{"finish_reason"});
  EXPECT_EQ(m.requests_rejected_total.label_names(), std::vector<std::string>{"reason"});
  EXPECT_EQ(m.device_memory_bytes.label_names(), (std::vector<std::string>{"device", "kind"}));
  EXPECT_EQ(m.build_info.label_names(), (std::vector<std::string>{"version", "backend", "model", "arch"}));
}

TEST(EngineMetrics, BucketsSpanTheDesignRanges) {
  const auto lat = EngineMetrics::latency_buckets();
  EXPECT_EQ(lat.front(), 0.01);
  EXPECT_EQ(lat.back(), 60);
  const auto itl = EngineMetrics::inter_token_buckets();
  EXPECT_EQ(itl.front(), 0.001);
  EXPECT_EQ(itl.back(), 2);
}

TEST(EngineMetrics, LoadAndKnownLabelSeries) {
  metrics::Registry r;
  EngineMetrics m(r);
  m.set_load(/*waiting=*/3, /*running=*/2, /*used_blocks=*/30, /*free_blocks=*/90,
             /*prefill_tokens_waiting=*/700);
  m.set_build_info("0.1.0", "cpu", "smollm2", "llama");
  m.set_device_memory("0", 1024, 4096);
  const std::string page = r.expose();
  for (const char* line : {
           "turbine_requests_waiting 3\n",
           "turbine_requests_running 2\n",
           "turbine_prefill_tokens_waiting 700\n",
           "turbine_kv_cache_usage_ratio 0.25\n",
           "turbine_kv_cache_blocks{state=\"free\"} 90\n",
           "turbine_kv_cache_blocks{state=\"used\"} 30\n",
           "turbine_build_info{version=\"0.1.0\",backend=\"cpu\",model=\"smollm2\",arch=\"llama\"} 1\n",
           "turbine_device_memory_bytes{device=\"0\",kind=\"used\"} 1024\n",
           "turbine_device_memory_bytes{device=\"0\",kind=\"total\"} 4096\n",
           "turbine_requests_total{finish_reason=\"timeout\"} 0\n",
           "turbine_requests_rejected_total{reason=\"queue_full\"} 0\n",
       }) {
    EXPECT_NE(page.find(line), std::string::npos) << line;
  }
  // Two owners on one registry share the series rather than clash.
  EngineMetrics again(r);
  EXPECT_EQ(&again.preemptions_total, &m.preemptions_total);
}

TEST(RateWindow, SlidesAndDecays) {
  const Clock::time_point t0{};
  metrics::RateWindow w(seconds(10), t0);
  EXPECT_EQ(w.rate(t0), 0.0);
  w.add(50, t0 + milliseconds(500));
  // Younger than a second: divide by the 1 s floor, not by 0.5 s.
  EXPECT_DOUBLE_EQ(w.rate(t0 + milliseconds(500)), 50.0);
  w.add(50, t0 + seconds(4));
  EXPECT_DOUBLE_EQ(w.rate(t0 + seconds(4)), 100.0 / 4);  // window not full yet
  EXPECT_DOUBLE_EQ(w.rate(t0 + seconds(10)), 100.0 / 10);
  // The first event (t = 0.5 s) leaves the window at exactly t = 10.5 s.
  EXPECT_DOUBLE_EQ(w.rate(t0 + milliseconds(10499)), 100.0 / 10);
  EXPECT_DOUBLE_EQ(w.rate(t0 + milliseconds(10500)), 50.0 / 10);
  EXPECT_DOUBLE_EQ(w.rate(t0 + seconds(14)), 0.0);
  w.add(7, t0 + seconds(20));
  EXPECT_DOUBLE_EQ(w.rate(t0 + seconds(20)), 0.7);
}

TEST(EngineMetrics, TokensPerSecondGaugeIsRefreshedAtScrape) {
  Clock::time_point now{};
  metrics::Registry r;
  EngineMetrics m(
      r, [&] { return now; }, seconds(10));
  now += seconds(10);
  m.record_generated_tokens(200);
  m.record_generated_tokens(100);
  EXPECT_EQ(m.generation_tokens_total.value(), 300);
  EXPECT_NE(r.expose().find("turbine_generation_tokens_per_second 30\n"), std::string::npos);
  // The engine goes idle: nothing records, yet the next scrape shows the rate falling to 0.
  now += seconds(11);
  EXPECT_NE(r.expose().find("turbine_generation_tokens_per_second 0\n"), std::string::npos);
  EXPECT_EQ(m.tokens_per_second(), 0.0);
}

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::istringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::error_code ec;
    if (!dir.empty() && std::filesystem::exists(std::filesystem::path(dir) / tool, ec)) return true;
  }
  return false;
}

TEST(EngineMetrics, DeviceMemoryIsReadAtEveryScrape) {
  metrics::Registry r;
  EngineMetrics m(r);
  // Without a probe (or with one that has no numbers, as on the CPU) there are no series.
  EXPECT_EQ(r.expose().find("turbine_device_memory_bytes{"), std::string::npos);
  m.watch_device_memory("0", [](double*, double*) { return false; });
  EXPECT_EQ(r.expose().find("turbine_device_memory_bytes{"), std::string::npos);
  double used = 1000;
  int probes = 0;
  m.watch_device_memory("0", [&](double* u, double* t) {
    ++probes;
    *u = used;
    *t = 8000;
    return true;
  });
  std::string page = r.expose();
  EXPECT_NE(page.find("turbine_device_memory_bytes{device=\"0\",kind=\"used\"} 1000\n"), std::string::npos) << page;
  EXPECT_NE(page.find("turbine_device_memory_bytes{device=\"0\",kind=\"total\"} 8000\n"), std::string::npos) << page;
  used = 5000;  // scratch buffers grew
  page = r.expose();
  EXPECT_NE(page.find("turbine_device_memory_bytes{device=\"0\",kind=\"used\"} 5000\n"), std::string::npos) << page;
  EXPECT_EQ(probes, 2);
  // Detached: the last values stay, the probe is not called again.
  m.watch_device_memory("0", nullptr);
  page = r.expose();
  EXPECT_EQ(probes, 2);
  EXPECT_NE(page.find("kind=\"used\"} 5000\n"), std::string::npos) << page;
}

TEST(EngineMetrics, PromtoolAcceptsAPopulatedPage) {
  if (!on_path("promtool")) GTEST_SKIP() << "promtool not on PATH (Debian package prometheus)";
  Clock::time_point now{};
  metrics::Registry r;
  EngineMetrics m(r, [&] { return now; });
  m.set_load(1, 2, 3, 4);
  m.set_build_info("0.1.0", "cpu", "model \"x\"\\y", "qwen2");
  m.set_device_memory("0", 1, 2);
  m.prompt_tokens_total.inc(12);
  m.record_generated_tokens(5);
  m.requests_total.with({"stop"}).inc();
  m.requests_rejected_total.with({"queue_full"}).inc();
  m.preemptions_total.inc();
  m.prefix_cache_queries_total.inc(32);
  m.prefix_cache_hits_total.inc(16);
  for (double v : {0.005, 0.2, 3.0, 100.0}) {
    m.time_to_first_token_seconds.observe(v);
    m.inter_token_latency_seconds.observe(v / 100);
    m.request_duration_seconds.observe(v * 2);
    m.queue_wait_seconds.observe(v / 10);
  }
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("turbine_metrics_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "_" + std::to_string(reinterpret_cast<uintptr_t>(&r)) + ".prom");
  {
    std::ofstream out(file);
    out << r.expose();
  }
  const std::string cmd = "promtool check metrics < '" + file.string() + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string output;
  char buf[512];
  while (size_t n = fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  const int status = pclose(p);
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0) << output;
  EXPECT_EQ(output, "") << "promtool lint findings";
}

}  // namespace
}  // namespace turbine
