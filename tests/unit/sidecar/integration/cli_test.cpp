// The binary's command line and `simulate` on the shipped traces: well-formed output, the
// same numbers on every run.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "sidecar_process.h"

namespace turbine::autoscaler::testing {
namespace {

struct Exec {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Exec exec(const std::string& args) {
  std::string cmd = "'" + autoscaler_bin() + "' " + args + " 2>&1";
  Exec r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string trace(const std::string& name) {
  return std::string(TURBINE_SOURCE_DIR) + "/tests/traces/" + name + ".csv";
}

TEST(Cli, VersionHelpAndErrors) {
  Exec v = exec("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out.rfind("turbine-autoscaler ", 0), 0u) << v.out;
  Exec h = exec("--help");
  EXPECT_EQ(h.code, 0);
  for (const char* s : {"simulate --trace FILE", "--kubeconfig", "--lease-name", "--dry-run",
                        "--scale-down-window", "--config"}) {
    EXPECT_NE(h.out.find(s), std::string::npos) << s;
  }
  Exec sh = exec("simulate --help");
  EXPECT_EQ(sh.code, 0);
  EXPECT_NE(sh.out.find("--trace"), std::string::npos);
  Exec unknown = exec("frobnicate");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("unknown command 'frobnicate'"), std::string::npos) << unknown.out;
  Exec missing = exec("run --service s");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.out.find("--deployment is required"), std::string::npos) << missing.out;
  Exec no_trace = exec("simulate");
  EXPECT_EQ(no_trace.code, 2);
  EXPECT_NE(no_trace.out.find("--trace"), std::string::npos) << no_trace.out;
}

TEST(Simulate, BadTraceNamesTheFileAndLine) {
  TempDir d;
  std::string f = d.write("bad.csv", "time_s,prompt_tokens,output_tokens\n1,10,5\n2,ten,5\n");
  Exec r = exec("simulate --trace " + f);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("bad.csv: trace line 3: bad prompt_tokens 'ten'"), std::string::npos)
      << r.out;
  Exec absent = exec("simulate --trace " + d.path() + "/absent.csv");
  EXPECT_EQ(absent.code, 1);
  EXPECT_NE(absent.out.find("absent.csv"), std::string::npos);
}

TEST(Simulate, ReplicaModelFileAndRateScale) {
  const std::string h100 = std::string(TURBINE_SOURCE_DIR) + "/bench/replica-models/h100-llama3-8b.json";
  Exec base = exec("simulate --json --trace " + trace("steady"));
  Exec r = exec("simulate --json --trace " + trace("steady") + " --replica " + h100 +
                " --rate-scale 10");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = nlohmann::json::parse(r.out);
  auto b = nlohmann::json::parse(base.out);
  EXPECT_EQ(j["replica_model"], "h100-llama3-8b");
  EXPECT_EQ(b["replica_model"], "built-in");
  EXPECT_EQ(j["startup_s"], 120);  // from the file
  // Ten times the rate over the same time: ten copies of each request.
  EXPECT_EQ(j["policies"][0]["requests"].get<long>(), 10 * b["policies"][0]["requests"].get<long>());
  EXPECT_NEAR(j["duration_s"].get<double>(), b["duration_s"].get<double>(), 1);
  Exec startup = exec("simulate --json --trace " + trace("steady") + " --replica " + h100 +
                      " --startup 30");
  EXPECT_EQ(nlohmann::json::parse(startup.out)["startup_s"], 30);  // the flag wins

  TempDir d;
  std::string bad = d.write("m.json", R"({"name": "m", "basis": "b", "max_batch": 8})");
  Exec e = exec("simulate --trace " + trace("steady") + " --replica " + bad);
  EXPECT_EQ(e.code, 1);
  EXPECT_NE(e.out.find("m.json: missing 'kv_tokens'"), std::string::npos) << e.out;
  Exec scale = exec("simulate --trace " + trace("steady") + " --rate-scale 0");
  EXPECT_EQ(scale.code, 2) << scale.out;
}

class SimulateTrace : public ::testing::TestWithParam<const char*> {};

TEST_P(SimulateTrace, WellFormedAndDeterministic) {
  Exec first = exec("simulate --json --events --trace " + trace(GetParam()));
  ASSERT_EQ(first.code, 0) << first.out;
  Exec second = exec("simulate --json --events --trace " + trace(GetParam()));
  ASSERT_EQ(second.code, 0);
  EXPECT_EQ(first.out, second.out) << "simulate is not deterministic";

  auto j = nlohmann::json::parse(first.out);
  EXPECT_EQ(j["trace"], std::string(GetParam()) + ".csv");
  // turbine, then the baselines: HPA at the default targets, the queue, llm-d.
  const std::vector<std::string> names = {"turbine", "hpa-0.3", "hpa-0.5",
                                          "hpa-0.7", "queue-5", "llm-d"};
  ASSERT_EQ(j["policies"].size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(j["policies"][i]["policy"], names[i]);
  long requests = j["policies"][0]["requests"];
  EXPECT_GT(requests, 1000);
  for (const auto& p : j["policies"]) {
    EXPECT_EQ(p["requests"], requests);
    EXPECT_GE(p["slo_misses"].get<long>(), 0);
    EXPECT_LE(p["slo_misses"].get<long>(), requests);
    EXPECT_LE(p["completed"].get<long>(), requests);
    EXPECT_GT(p["replica_seconds"].get<double>(), 0);
    EXPECT_EQ(p["scale_events"].get<size_t>(), p["events"].size());
    EXPECT_GE(p["max_replicas"].get<int>(), 1);
    EXPECT_LE(p["max_replicas"].get<int>(), j["max_replicas"].get<int>());
    double last = -1;
    for (const auto& e : p["events"]) {
      EXPECT_GT(e["time_s"].get<double>(), last);
      last = e["time_s"];
      EXPECT_NE(e["from"], e["to"]);
      EXPECT_FALSE(e["reason"].get<std::string>().empty());
    }
  }

  // The table: a title, a header, one row per policy, with the same numbers.
  Exec table = exec("simulate --trace " + trace(GetParam()));
  ASSERT_EQ(table.code, 0) << table.out;
  std::istringstream lines(table.out);
  std::string title, header, row;
  std::getline(lines, title);
  std::getline(lines, header);
  EXPECT_EQ(title.rfind(std::string("trace ") + GetParam() + ".csv: ", 0), 0u) << title;
  EXPECT_EQ(header.rfind("policy", 0), 0u) << header;
  EXPECT_NE(header.find("slo_misses"), std::string::npos);
  EXPECT_NE(header.find("replica_s"), std::string::npos);
  EXPECT_NE(header.find("events"), std::string::npos);
  for (const auto& p : j["policies"]) {
    ASSERT_TRUE(std::getline(lines, row));
    std::istringstream f(row);
    std::string name;
    long misses;
    f >> name >> misses;
    EXPECT_EQ(name, p["policy"]);
    EXPECT_EQ(misses, p["slo_misses"]);
  }
}

INSTANTIATE_TEST_SUITE_P(Traces, SimulateTrace, ::testing::Values("steady", "diurnal", "burst", "ramp",
                                                          "spikes", "flash", "rag", "day"));

}  // namespace
}  // namespace turbine::autoscaler::testing
