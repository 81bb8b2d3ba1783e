#include "sidecar/scraper.h"

#include <httplib.h>

#include <thread>

namespace turbine::autoscaler {

Result<EngineLoad> scrape_pod(const std::string& ip, int port, Seconds timeout) {
  std::string host = ip.find(':') != std::string::npos ? "[" + ip + "]" : ip;
  httplib::Client cli("http://" + host + ":" + std::to_string(port));
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout);
  cli.set_connection_timeout(us);
  cli.set_read_timeout(us);
  cli.set_write_timeout(us);
  auto res = cli.Get("/metrics", {{"Accept", "text/plain;version=0.0.4"}});
  if (!res) return Error{"GET /metrics: " + httplib::to_string(res.error())};
  if (res->status != 200) return Error{"GET /metrics: HTTP " + std::to_string(res->status)};
  auto text = parse_prom_text(res->body);
  if (!text) return Error{"parsing /metrics: " + text.error()};
  return engine_load_from(*text);
}

std::vector<ScrapeResult> scrape_all(const std::vector<ReadyEndpoint>& endpoints, int port,
                                     Seconds timeout) {
  std::vector<ScrapeResult> out(endpoints.size());
  std::vector<std::thread> threads;
  threads.reserve(endpoints.size());
  for (size_t i = 0; i < endpoints.size(); ++i) {
    threads.emplace_back([&, i] {
      ScrapeResult& r = out[i];
      r.endpoint = endpoints[i];
      auto load = scrape_pod(endpoints[i].ip, port, timeout);
      r.at = Clock::now();
      if (load) {
        r.ok = true;
        r.load = *load;
      } else {
        r.error = load.error();
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

}  // namespace turbine::autoscaler
