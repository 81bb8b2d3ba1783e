// `turbine bench`: prefill (ppN) and decode (tgN) throughput like llama-bench, plus the
// bytes each decode step reads and how close that comes to the memory-bandwidth limit
// measured on this machine in the same run.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>

#include "engine/cli/commands.h"
#include "engine/cli/model_loader.h"
#include "base/log.h"
#include "engine/model/single_sequence.h"
#include "engine/runtime/kv_sizing.h"
#if defined(TURBINE_WITH_CUDA)
#include "kernels/cuda/cuda_backend.h"
#endif

namespace turbine {
namespace {

using Clock = std::chrono::steady_clock;

// Read bandwidth: n_threads threads each sum a disjoint slice of a buffer far larger than
// the caches; best of several passes (what the memory system can deliver to a reader).
double measure_read_bandwidth(int n_threads) {
  const size_t bytes = size_t{512} << 20;
  std::vector<uint64_t> buf(bytes / 8);
  for (size_t i = 0; i < buf.size(); i += 512) buf[i] = i;  // fault the pages in
  std::memset(buf.data(), 1, bytes);
  double best = 0;
  for (int pass = 0; pass < 5; ++pass) {
    std::vector<std::thread> th;
    std::vector<uint64_t> sums(n_threads * 8);
    auto t0 = Clock::now();
    for (int t = 0; t < n_threads; ++t)
      th.emplace_back([&, t] {
        size_t n = buf.size() / n_threads, lo = n * t;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = lo; i + 4 <= lo + n; i += 4) {
          s0 += buf[i];
          s1 += buf[i + 1];
          s2 += buf[i + 2];
          s3 += buf[i + 3];
        }
        sums[t * 8] = s0 + s1 + s2 + s3;
      });
    for (auto& x : th) x.join();
    double s = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::max(best, bytes / s);
    volatile uint64_t sink = sums[0];
    (void)sink;
  }
  return best;
}

struct Stat {
  double mean = 0, sd = 0;
};
Stat stats(const std::vector<double>& v) {
  Stat s;
  for (double x : v) s.mean += x;
  s.mean /= v.size();
  for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = v.size() > 1 ? std::sqrt(s.sd / (v.size() - 1)) : 0;
  return s;
}

// Decode throughput of `batch` sequences stepping together: each first gets a prompt of
// n_prompt tokens, then n_gen steps of one token per sequence, greedy through the
// backend's argmax (only ids cross the bus, as in serving). Returns tokens per second
// over all sequences.
double decode_batch_tok_s(LlamaModel& model, int batch, int n_prompt, int n_gen) {
  // The pool by the serving rule (runtime/kv_sizing.h): every sequence's whole context.
  KvPoolRequest req = kv_request_for(model, model.backend(), 32);
  req.context_tokens = n_prompt + n_gen;
  req.max_sequences = batch;
  auto plan = plan_kv_pool(req);
  if (!plan) throw CliError(plan.error());
  const int block = req.block_size;
  const int blocks_per_seq = plan->num_blocks / batch;
  if (int64_t{blocks_per_seq} * block < n_prompt + n_gen)
    throw CliError("not enough memory for " + std::to_string(batch) + " sequences of " +
                   std::to_string(n_prompt + n_gen) + " tokens; lower --batch or --n-prompt");
  KvPool kv(model.backend(), model.config().n_layers,
            model.kv_geometry(batch * blocks_per_seq, block));
  const int V = model.config().n_vocab;
  std::vector<int32_t> next(batch);
  for (int s = 0; s < batch; ++s) {  // prefill, one sequence (one table row) at a time
    for (int p0 = 0; p0 < n_prompt; p0 += 512) {
      ForwardBatch fb;
      fb.n_seqs = 1;
      fb.max_blocks_per_seq = blocks_per_seq;
      for (int b = 0; b < blocks_per_seq; ++b) fb.block_tables.push_back(s * blocks_per_seq + b);
      for (int p = p0; p < std::min(n_prompt, p0 + 512); ++p) {
        fb.tokens.push_back((p * 7919 + s * 104729 + 13) % V);
        fb.positions.push_back(p);
        fb.seq_of_token.push_back(0);
      }
      fb.logit_rows.push_back(fb.n_tokens() - 1);
      next[s] = model.forward_argmax(fb, kv)[0];
    }
  }
  ForwardBatch fb;
  fb.n_seqs = batch;
  fb.max_blocks_per_seq = blocks_per_seq;
  for (int b = 0; b < batch * blocks_per_seq; ++b) fb.block_tables.push_back(b);
  fb.tokens.resize(batch);
  fb.positions.resize(batch);
  fb.seq_of_token.resize(batch);
  fb.logit_rows.resize(batch);
  auto t0 = Clock::now();
  for (int i = 0; i < n_gen; ++i) {
    for (int s = 0; s < batch; ++s) {
      fb.tokens[s] = next[s];
      fb.positions[s] = n_prompt + i;
      fb.seq_of_token[s] = s;
      fb.logit_rows[s] = s;
    }
    next = model.forward_argmax(fb, kv);
  }
  return double(batch) * n_gen / std::chrono::duration<double>(Clock::now() - t0).count();
}

// The weights' storage types by share of the bytes, largest first ("w4g128 88%, q8_0 12%").
std::string weight_types(const GgufFile& f) {
  std::map<std::string, size_t> by_type;
  size_t total = 0;
  for (const GgufTensor& t : f.tensors()) {
    if (t.dims.size() < 2) continue;  // norms
    by_type[std::string(dtype_name(t.type))] += t.nbytes;
    total += t.nbytes;
  }
  std::vector<std::pair<size_t, std::string>> v;
  for (const auto& [name, bytes] : by_type) v.push_back({bytes, name});
  std::sort(v.rbegin(), v.rend());
  std::string out;
  for (const auto& [bytes, name] : v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s %.0f%%", out.empty() ? "" : ", ", name.c_str(),
                  total ? 100.0 * double(bytes) / double(total) : 0.0);
    out += buf;
  }
  return out;
}

// One profiled phase: where `tokens` tokens' time went, by op (kernels/profiling_backend.h).
struct PhaseProfile {
  std::string phase;
  int tokens = 0;
  double wall_s = 0;
  std::vector<OpProfile> ops;
};

PhaseProfile profile_prefill(ProfilingBackend& pb, SingleSequence& seq,
                             const std::vector<int32_t>& prompt) {
  seq.reset();
  pb.reset();
  auto t0 = Clock::now();
  seq.eval(prompt);
  return {"prefill", int(prompt.size()), std::chrono::duration<double>(Clock::now() - t0).count(),
          pb.report()};
}

PhaseProfile profile_decode(ProfilingBackend& pb, SingleSequence& seq, int32_t first, int n_gen) {
  seq.reset();
  pb.reset();
  int32_t tok = first;
  auto t0 = Clock::now();
  for (int i = 0; i < n_gen; ++i) {
    auto logits = seq.eval(std::span<const int32_t>(&tok, 1));
    tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  return {"decode", n_gen, std::chrono::duration<double>(Clock::now() - t0).count(), pb.report()};
}

// The time outside the backend's ops (the model's host code, scheduling, logits copies).
double untimed_s(const PhaseProfile& p) {
  double in_ops = 0;
  for (const OpProfile& o : p.ops) in_ops += o.seconds;
  return std::max(0.0, p.wall_s - in_ops);
}

void print_profile_table(const PhaseProfile& p) {
  std::printf("\n%s, %d tokens: %.2f ms per token\n", p.phase.c_str(), p.tokens,
              1e3 * p.wall_s / p.tokens);
  std::printf("| op | calls/token | us/token | share | weight GB/s |\n|---|---|---|---|---|\n");
  for (const OpProfile& o : p.ops) {
    char gbs[32] = "-";
    if (o.bytes > 0) std::snprintf(gbs, sizeof gbs, "%.1f", o.bytes / o.seconds / 1e9);
    std::printf("| %s | %.2f | %.1f | %.1f%% | %s |\n", o.op.c_str(), double(o.calls) / p.tokens,
                1e6 * o.seconds / p.tokens, 100 * o.seconds / p.wall_s, gbs);
  }
  const double rest = untimed_s(p);
  std::printf("| (outside ops) | - | %.1f | %.1f%% | - |\n", 1e6 * rest / p.tokens,
              100 * rest / p.wall_s);
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

std::string profile_json(const PhaseProfile& p) {
  std::string out = "{\"tokens\":" + std::to_string(p.tokens) + ",\"wall_s\":" +
                    num(p.wall_s) + ",\"outside_ops_s\":" + num(untimed_s(p)) +
                    ",\"ops\":[";
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const OpProfile& o = p.ops[i];
    out += std::string(i ? "," : "") + "{\"op\":\"" + json_escape(o.op) + "\",\"calls\":" +
           std::to_string(o.calls) + ",\"seconds\":" + num(o.seconds) +
           ",\"bytes\":" + num(o.bytes) + "}";
  }
  return out + "]}";
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench", "Measure prefill and decode speed (like llama-bench)");
  struct Opts {
    std::string model, device = "auto", kv_dtype = "f16";
    int threads = 0, n_prompt = 512, n_gen = 128, reps = 3, batch = 1;
    bool json = false, profile = false;
  };
  auto o = std::make_shared<Opts>();
  cmd->add_option("-m,--model", o->model, "GGUF model (default: the fetched SmolLM2-135M)");
  cmd->add_option("-t,--threads", o->threads, "CPU threads (default: physical cores)");
  cmd->add_option("-p,--n-prompt", o->n_prompt, "prompt tokens for the prefill test")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("-n,--n-gen", o->n_gen, "tokens for the decode test")->check(CLI::Range(1, 1 << 16));
  cmd->add_option("-r,--repetitions", o->reps, "repetitions of each test")->check(CLI::Range(1, 100));
  cmd->add_option("--device", o->device, "cpu, cuda or auto");
  cmd->add_option("--kv-cache-dtype", o->kv_dtype, kKvCacheDtypeHelp);
  cmd->add_option("-b,--batch", o->batch, "sequences decoding together in the decode test (each with its own n-prompt context)")
      ->check(CLI::Range(1, 1024));
  cmd->add_flag("--json", o->json, "print one JSON object instead of a table");
  cmd->add_flag("--profile", o->profile,
                "then run prefill and decode once more with every op timed, and print where a "
                "token's time goes (per op and weight shape, with each matmul's GB/s)");
  cmd->callback([o] {
    auto kv_type = parse_kv_cache_dtype(o->kv_dtype);
    if (!kv_type) throw CliError(kv_type.error());
    auto lm = load_model(o->model, o->threads, o->device, /*need_tokenizer=*/false, *kv_type,
                         o->profile);
    if (!lm) throw CliError(lm.error());
    LlamaModel& model = *lm->model;
    const int V = model.config().n_vocab;
    std::vector<int32_t> prompt(o->n_prompt);
    for (int i = 0; i < o->n_prompt; ++i) prompt[i] = (i * 7919 + 13) % V;
    SingleSequence seq(model, o->n_prompt + o->n_gen + 1, 512);
    // Warm-up (first touches of scratch buffers and the KV pool).
    seq.eval(std::span<const int32_t>(prompt.data(), std::min(16, o->n_prompt)));
    std::vector<double> pp, tg;
    for (int r = 0; r < o->reps; ++r) {
      seq.reset();
      auto t0 = Clock::now();
      seq.eval(prompt);
      pp.push_back(o->n_prompt / std::chrono::duration<double>(Clock::now() - t0).count());
      if (o->batch == 1) {
        seq.reset();
        int32_t tok = prompt[0];
        t0 = Clock::now();
        for (int i = 0; i < o->n_gen; ++i) {
          auto logits = seq.eval(std::span<const int32_t>(&tok, 1));
          tok = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
        }
        tg.push_back(o->n_gen / std::chrono::duration<double>(Clock::now() - t0).count());
      }
    }
    // Batched decode: the prompt becomes each sequence's context (a short one by default
    // keeps the KV pool small); the step reads the weights once for all sequences.
    if (o->batch > 1)
      for (int r = 0; r < o->reps; ++r) tg.push_back(decode_batch_tok_s(model, o->batch, o->n_prompt, o->n_gen));
    int threads = o->threads > 0 ? o->threads : 0;
    std::string bw_kind = "host read";
    double bw = 0;
#if defined(TURBINE_WITH_CUDA)
    if (lm->backend->name() == "cuda") {
      bw = cuda_measure_copy_bandwidth(0);
      bw_kind = "device copy";
    }
#endif
    if (bw == 0)
      bw = measure_read_bandwidth(std::max(1, threads ? threads : int(std::thread::hardware_concurrency())));
    // Bytes per decode step: all weights once, plus each sequence's KV cache read at its mean
    // position (batch 1: the context grows from 0 to n_gen; batched: from n_prompt).
    size_t kv_per_tok = KvPool::bytes_per_token(model.config().n_layers, model.kv_geometry(1, 16));
    const double mean_ctx = o->batch == 1 ? o->n_gen / 2.0 : o->n_prompt + o->n_gen / 2.0;
    double bytes_per_step = model.weight_bytes_per_token() + kv_per_tok * mean_ctx * o->batch;
    double bytes_per_token = bytes_per_step / o->batch;
    Stat p = stats(pp), g = stats(tg);
    double limit = bw / bytes_per_token;
    const std::string kernels = lm->backend->uses_host_memory() ? cpu_kernel_family() : lm->backend->name();
    const std::string wtypes = weight_types(*lm->file);
    std::vector<PhaseProfile> profiles;
    if (lm->profiler) {
      profiles.push_back(profile_prefill(*lm->profiler, seq, prompt));
      profiles.push_back(profile_decode(*lm->profiler, seq, prompt[0], o->n_gen));
    }
    std::string profile_field;
    for (const PhaseProfile& pp_ : profiles)
      profile_field += ",\"profile_" + pp_.phase + "\":" + profile_json(pp_);
    if (o->json) {
      std::printf(
          "{\"model\":\"%s\",\"backend\":\"%s\",\"kernels\":\"%s\",\"threads\":%d,"
          "\"pp%d_tok_s\":%.3f,\"pp_tok_s\":%.3f,\"pp_sd\":%.3f,\"tg%d_tok_s\":%.3f,\"tg_tok_s\":%.3f,"
          "\"tg_sd\":%.3f,\"bytes_per_token\":%.0f,\"bandwidth_gb_s\":%.3f,\"limit_tok_s\":%.3f,"
          "\"limit_fraction\":%.4f,\"batch\":%d,\"bandwidth_kind\":\"%s\",\"weight_types\":\"%s\","
          "\"weight_bytes_per_token\":%zu,\"kv_cache_dtype\":\"%s\",\"kv_bytes_per_ctx_token\":%zu,"
          "\"mean_ctx\":%.1f%s}\n",
          json_escape(lm->file->path()).c_str(), lm->backend->name().c_str(),
          kernels.c_str(), o->threads, o->n_prompt, p.mean, p.mean, p.sd, o->n_gen,
          g.mean, g.mean, g.sd, bytes_per_token, bw / 1e9, limit, g.mean / limit, o->batch,
          bw_kind.c_str(), wtypes.c_str(), model.weight_bytes_per_token(), o->kv_dtype.c_str(),
          kv_per_tok, mean_ctx, profile_field.c_str());
    } else {
      std::printf("| model | backend | test | t/s |\n|---|---|---|---|\n");
      std::printf("| %s | %s/%s | pp%d | %.2f ± %.2f |\n", model.config().name.c_str(),
                  lm->backend->name().c_str(), kernels.c_str(), o->n_prompt, p.mean, p.sd);
      std::printf("| %s | %s/%s | tg%d%s | %.2f ± %.2f |\n", model.config().name.c_str(),
                  lm->backend->name().c_str(), kernels.c_str(), o->n_gen,
                  o->batch > 1 ? (" x" + std::to_string(o->batch)).c_str() : "", g.mean, g.sd);
      std::printf("\nweights %s: %.1f MB per decode step; KV cache %s: %zu bytes per context token "
                  "(mean context %.0f)\n",
                  wtypes.c_str(), model.weight_bytes_per_token() / 1e6, o->kv_dtype.c_str(),
                  kv_per_tok, mean_ctx);
      std::printf("decode reads %.1f MB/token; measured %s bandwidth %.2f GB/s; limit %.1f tok/s; "
                  "decode reaches %.1f%% of it\n",
                  bytes_per_token / 1e6, bw_kind.c_str(), bw / 1e9, limit, 100 * g.mean / limit);
      for (const PhaseProfile& pp_ : profiles) print_profile_table(pp_);
    }
  });
}

}  // namespace turbine
