// `turbine quantize`: a Llama GGUF rewritten with its matrices in another storage type.
// Every 2-D weight is dequantized to float, transformed (AWQ's scales and clipping, when a
// plan is given) and stored in the target type; vectors (the norms) are stored as F32;
// metadata is copied, with general.file_type set as llama.cpp numbers it and the
// conversion recorded under turbine.quantize.*.
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "engine/gguf/gguf_file.h"
#include "engine/quant/awq.h"

namespace turbine {

// The types `turbine quantize --type` writes: f32 f16 bf16 q8_0 q4_0 q4_1 w4g128.
Result<DType> parse_quant_type(std::string name);

struct QuantizeOptions {
  DType type = DType::kW4G128;
  // The token embedding (and a separate LM head). Default: Q8_0 when `type` has 4-bit
  // codes (the tied LM head is the most sensitive matrix, as llama.cpp keeps its output
  // tensor at 6 bits or more), else `type`.
  std::optional<DType> embd_type;
  const TransformPlan* plan = nullptr;  // nullptr: round to nearest
  std::string method = "rtn";           // recorded in the file
  std::function<void(double)> progress;
};

struct QuantizeSummary {
  int tensors = 0;
  int64_t params = 0;
  size_t in_bytes = 0, out_bytes = 0;  // tensor data
  DType embd_type = DType::kF32;
};

// Validates `in` as a model turbine loads, then writes `out_path`. On any error nothing is
// left at out_path.
Result<QuantizeSummary> quantize_model(std::shared_ptr<GgufFile> in, const std::string& out_path,
                                       const QuantizeOptions& opt);

}  // namespace turbine
