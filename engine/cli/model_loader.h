// What every subcommand needs: resolve the model path (default: the fetched SmolLM2), open
// it, pick a backend, bind the weights with a progress bar on a terminal, build the
// tokenizer.
#pragma once
#include <memory>
#include <string>

#include "engine/model/llama_model.h"
#include "engine/tokenizer/tokenizer.h"
#include "kernels/profiling_backend.h"

namespace turbine {

struct LoadedModel {
  std::shared_ptr<GgufFile> file;
  std::unique_ptr<Backend> backend;
  std::unique_ptr<LlamaModel> model;
  std::unique_ptr<Tokenizer> tokenizer;
  ProfilingBackend* profiler = nullptr;  // the backend itself, when loaded with profile
};

// $TURBINE_MODEL, else the default model in $TURBINE_CACHE (~/.cache/turbine).
std::string default_model_path();
// Opens `path` (or the default when empty) on `device` ("cpu" | "cuda" | "auto"); its KV
// pools store K/V as kv_type. With profile, the backend times its ops (kernels/profiling_backend.h).
Result<LoadedModel> load_model(std::string path, int threads, const std::string& device = "auto",
                               bool need_tokenizer = true, KvType kv_type = KvType::kF16,
                               bool profile = false);

// --kv-cache-dtype: "f16", "int8" or "int4".
Result<KvType> parse_kv_cache_dtype(const std::string& s);
inline constexpr const char* kKvCacheDtypeHelp =
    "KV cache storage: f16, int8 or int4 (per token and head, scale and offset per row / per 16 "
    "values; 1.9x / 2.7x the tokens of f16 at head size 64)";

// A one-line progress bar on stderr, redrawn in place when stderr is a terminal and
// silent otherwise (logs stay one line per event).
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  void update(double fraction);
  void done();

 private:
  std::string label_;
  bool tty_;
  int last_ = -1;
};

}  // namespace turbine
