// Activation-aware weight quantization (AWQ, Lin et al. 2023), searched on calibration
// text. A weight column that meets large activations matters more than one that meets
// small ones, so before rounding, column c of every matrix reading an input is scaled up by
// s_c = mean|x_c|^alpha (and the input scaled down by the same s_c, folded into the op that
// produces it), alpha chosen per group of matrices from {0, 0.05, ..., 0.95} to minimise
// that group's output error on the calibration tokens; alpha = 0 is plain rounding, so the
// search can only lower that error. Then, for W4G128, each group's range is clipped where
// that lowers the error further.
//
// The groups of a Llama layer and where their scale folds:
//   attn_q/k/v   (input: attn_norm's output)   -> divides attn_norm.weight
//   attn_output  (input: attention's output)   -> divides attn_v's rows; with grouped-query
//                attention one scale per KV-head channel, shared by the heads that read it
//   ffn_gate/up  (input: ffn_norm's output)    -> divides ffn_norm.weight
//   ffn_down     (input: silu(gate) * up)      -> divides ffn_up's rows
// The token embedding (also the LM head when tied) is not scaled.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"

namespace turbine {

// What to do to a tensor's float values before it is stored (engine/quant/quantize_model.h).
struct TensorTransform {
  std::vector<float> col_mul;  // [cols]: W[r][c] *= col_mul[c]
  std::vector<float> row_div;  // [rows] (for a vector, [n]): W[r][c] /= row_div[r]
  std::vector<float> clip;     // [rows * groups of 128]: quantize_w4g128_group's clip (W4G128 only)
};
using TransformPlan = std::map<std::string, TensorTransform>;

struct AwqOptions {
  DType type = DType::kW4G128;  // the type the searched matrices will be stored in
  int threads = 0;              // 0: every core
  std::function<void(double)> progress;
};

// One group's search: the output error (mean squared, over calibration tokens and rows)
// of plain rounding and of the chosen scales and clipping.
struct AwqGroupResult {
  std::string first_matrix;
  float alpha = 0.f;
  double loss_rtn = 0, loss_awq = 0;
};

struct AwqResult {
  TransformPlan plan;
  std::vector<AwqGroupResult> groups;
  int calib_tokens = 0;
};

// Runs the model in `file` (any weight type turbine reads) over `calib` on the CPU and
// searches every layer's scales. Fails for a file that is not a loadable model.
Result<AwqResult> awq_search(std::shared_ptr<GgufFile> file, std::span<const int32_t> calib,
                             const AwqOptions& opt);

}  // namespace turbine
