#include "engine/cli/model_loader.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "base/log.h"
#if defined(TURBINE_WITH_CUDA)
#include "kernels/cuda/cuda_backend.h"
#endif

namespace turbine {

std::string default_model_path() {
  if (const char* m = std::getenv("TURBINE_MODEL"); m && *m) return m;
  std::string cache;
  if (const char* c = std::getenv("TURBINE_CACHE"); c && *c) {
    cache = c;
  } else if (const char* h = std::getenv("HOME"); h && *h) {
    cache = std::string(h) + "/.cache/turbine";
  } else {
    cache = ".cache/turbine";
  }
  return cache + "/SmolLM2-135M-Instruct.Q4_1.gguf";
}

ProgressBar::ProgressBar(std::string label) : label_(std::move(label)), tty_(isatty(2)) {}

void ProgressBar::update(double fraction) {
  if (!tty_) return;
  int pct = static_cast<int>(fraction * 100);
  if (pct == last_) return;
  last_ = pct;
  const int width = 30;
  int fill = pct * width / 100;
  std::fprintf(stderr, "\r%s [%.*s%*s] %3d%%", label_.c_str(), fill,
               "##############################", width - fill, "", pct);
  std::fflush(stderr);
}

void ProgressBar::done() {
  if (tty_ && last_ >= 0) std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 40, "");
}

Result<KvType> parse_kv_cache_dtype(const std::string& s) {
  KvType t;
  if (s != "f32" && parse_kv_type(s, &t)) return t;
  return Error{"--kv-cache-dtype must be f16, int8 or int4 (got '" + s + "')"};
}

Result<LoadedModel> load_model(std::string path, int threads, const std::string& device,
                               bool need_tokenizer, KvType kv_type, bool profile) {
  if (path.empty()) {
    path = default_model_path();
    if (!std::filesystem::exists(path))
      return Error{"no model given (-m) and the default model is not at '" + path +
                   "'; run scripts/fetch-model to download it, or pass -m FILE.gguf"};
  }
  auto t0 = std::chrono::steady_clock::now();
  LoadedModel lm;
  auto f = GgufFile::open(path);
  if (!f) return Error{f.error()};
  lm.file = *f;
  std::vector<WeightTensor> weights;
  for (const GgufTensor& t : lm.file->tensors()) weights.push_back({t.name, t.type});
  auto choice = make_backend(device, weights, threads);
  if (!choice) return Error{choice.error()};
  lm.backend = std::move(choice->backend);
  if (profile) {
    auto p = std::make_unique<ProfilingBackend>(std::move(lm.backend));
    lm.profiler = p.get();
    lm.backend = std::move(p);
  }
  if (!choice->fallback_reason.empty())
    log::info("running on the CPU: the CUDA backend cannot run here",
              {{"reason", choice->fallback_reason}});
#if defined(TURBINE_WITH_CUDA)
  if (lm.backend->name() == "cuda") log::info("using CUDA", {{"device", cuda_device_description(0)}});
#endif
  ProgressBar bar("loading model");
  LoadOptions opt;
  opt.kv_type = kv_type;
  opt.progress = [&](size_t done, size_t total) { bar.update(total ? double(done) / total : 1.0); };
  auto m = LlamaModel::load(lm.file, *lm.backend, opt);
  bar.done();
  if (!m) return Error{m.error()};
  lm.model = std::move(*m);
  if (need_tokenizer) {
    auto v = vocab_from_gguf(*lm.file);
    if (!v) return Error{v.error()};
    auto t = Tokenizer::create(std::move(*v));
    if (!t) return Error{"model '" + path + "': " + t.error()};
    lm.tokenizer = std::make_unique<Tokenizer>(std::move(*t));
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", secs);
  log::info("model loaded",
            {{"path", path},
             {"config", lm.model->config().describe()},
             {"backend", lm.backend->name()},
             {"kernels", lm.backend->uses_host_memory() ? cpu_kernel_family() : lm.backend->name()},
             {"weights_mb", std::to_string(lm.model->weight_bytes_per_token() >> 20)},
             {"kv_cache_dtype", std::string(kv_type_name(kv_type))},
             {"seconds", buf}});
  return lm;
}

}  // namespace turbine
