#include "engine/runtime/kv_sizing.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "engine/model/kv_pool.h"
#include "engine/model/llama_model.h"

namespace turbine {

namespace {

std::string mib(size_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

Result<KvPoolPlan> plan_kv_pool(const KvPoolRequest& req) {
  TURBINE_CHECK(req.block_bytes > 0 && req.block_size > 0 && req.max_sequences >= 1);
  if (req.explicit_blocks > 0)
    return KvPoolPlan{req.explicit_blocks, req.block_bytes * size_t(req.explicit_blocks),
                      "explicit"};
  if (req.explicit_bytes > 0) {
    const size_t blocks = std::min<size_t>(req.explicit_bytes / req.block_bytes, size_t{1} << 30);
    if (blocks == 0)
      return Error{"the KV cache budget of " + std::to_string(req.explicit_bytes) +
                   " bytes holds no block (one block needs " + std::to_string(req.block_bytes) +
                   " bytes); raise --kv-cache-mb"};
    return KvPoolPlan{static_cast<int>(blocks), blocks * req.block_bytes, "budget"};
  }
  if (!(req.memory_fraction > 0 && req.memory_fraction <= 1))
    return Error{"the KV cache fraction must be in (0, 1], got " +
                 std::to_string(req.memory_fraction)};
  size_t usable = req.free_bytes;
  if (req.on_device)
    usable -= std::min(usable, std::min<size_t>(req.free_bytes / 20, size_t{1} << 30));
  const auto budget =
      static_cast<size_t>(std::floor(req.memory_fraction * static_cast<double>(usable)));
  const size_t by_memory = budget / req.block_bytes;
  if (by_memory == 0)
    return Error{
        "not enough memory for a KV cache: " + std::string(req.on_device ? "device" : "host") +
        " memory free is " + mib(req.free_bytes) + ", the fraction " +
        std::to_string(req.memory_fraction) + " of it is " + mib(budget) + " and one block needs " +
        std::to_string(req.block_bytes) +
        " bytes; free memory, raise the fraction or set the pool with --kv-blocks"};
  const int64_t blocks_per_seq =
      (std::max<int64_t>(req.context_tokens, 1) + req.block_size - 1) / req.block_size;
  const size_t by_context =
      static_cast<size_t>(blocks_per_seq) * static_cast<size_t>(req.max_sequences);
  const bool take_all = req.on_device && req.serving;
  size_t blocks = by_memory;
  std::string basis = "memory";
  if (!take_all && by_context < by_memory) {
    blocks = by_context;
    basis = "context";
  }
  blocks = std::min<size_t>(blocks, size_t{1} << 30);  // block ids are int32
  return KvPoolPlan{static_cast<int>(blocks), blocks * req.block_bytes, basis};
}

size_t host_available_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  size_t kb = 0;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return size_t{4} << 30;
}

KvPoolRequest kv_request_for(const LlamaModel& model, Backend& backend, int block_size) {
  KvPoolRequest r;
  r.block_size = block_size;
  r.block_bytes =
      KvPool::bytes_per_token(model.config().n_layers, model.kv_geometry(1, block_size)) *
      static_cast<size_t>(block_size);
  Backend::MemoryInfo mem;
  if (backend.memory_info(&mem)) {
    r.free_bytes = mem.free;
    r.on_device = true;
  } else {
    r.free_bytes = host_available_bytes();
  }
  r.context_tokens = model.config().context_length;
  return r;
}

}  // namespace turbine
