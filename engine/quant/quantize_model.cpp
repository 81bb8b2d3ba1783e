#include "engine/quant/quantize_model.h"

#include <cctype>
#include <map>

#include "engine/gguf/gguf_writer.h"
#include "engine/model/llama_model.h"
#include "kernels/quantize.h"

namespace turbine {

namespace {

// llama.cpp's llama_ftype numbers for general.file_type ("mostly <type>").
std::optional<int> llama_file_type(DType t) {
  switch (t) {
    case DType::kF32: return 0;
    case DType::kF16: return 1;
    case DType::kQ4_0: return 2;
    case DType::kQ4_1: return 3;
    case DType::kQ8_0: return 7;
    case DType::kBF16: return 32;
    default: return std::nullopt;
  }
}

bool four_bit(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 || t == DType::kW4G128; }

}  // namespace

Result<DType> parse_quant_type(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const std::map<std::string, DType> kTypes = {
      {"f32", DType::kF32},   {"f16", DType::kF16},   {"bf16", DType::kBF16},
      {"q8_0", DType::kQ8_0}, {"q4_0", DType::kQ4_0}, {"q4_1", DType::kQ4_1},
      {"w4g128", DType::kW4G128}};
  auto it = kTypes.find(s);
  if (it == kTypes.end())
    return Error{"unknown quantization type '" + s + "' (f32, f16, bf16, q8_0, q4_0, q4_1, w4g128)"};
  return it->second;
}

Result<QuantizeSummary> quantize_model(std::shared_ptr<GgufFile> in, const std::string& out_path,
                                       const QuantizeOptions& opt) {
  // The input must be a model turbine runs: config, every tensor with its shape.
  {
    auto cpu = make_cpu_backend(1);
    auto m = LlamaModel::load(in, *cpu);
    if (!m) return Error{m.error()};
  }
  QuantizeSummary sum;
  sum.embd_type = opt.embd_type.value_or(four_bit(opt.type) ? DType::kQ8_0 : opt.type);

  GgufWriter w(in->alignment());
  for (const auto& [key, value] : in->metadata()) {
    if (key == "general.file_type" || key.rfind("turbine.quantize.", 0) == 0) continue;
    w.set(key, value);
  }
  if (auto ft = llama_file_type(opt.type)) w.set_u32("general.file_type", static_cast<uint32_t>(*ft));
  w.set_string("turbine.quantize.type", std::string(dtype_name(opt.type)));
  w.set_string("turbine.quantize.method", opt.method);

  const size_t total = in->tensor_data_bytes();
  size_t done = 0;
  for (const GgufTensor& t : in->tensors()) {
    const int64_t cols = t.dims[0];
    const int64_t rows = t.n_elements() / cols;
    DType target = t.type;
    if (t.dims.size() == 2) {
      target = (t.name == "token_embd.weight" || t.name == "output.weight") ? sum.embd_type : opt.type;
    } else if (t.dims.size() == 1) {
      target = DType::kF32;
    }
    if (cols % row_granule(target) != 0)
      return Error{"tensor '" + t.name + "' has rows of " + std::to_string(cols) + " elements, not a multiple of " +
                   std::to_string(row_granule(target)) + " as " + std::string(dtype_name(target)) + " needs"};
    const TensorTransform* tf = nullptr;
    if (opt.plan) {
      auto it = opt.plan->find(t.name);
      if (it != opt.plan->end()) tf = &it->second;
    }
    std::vector<uint8_t> data;
    if (target == t.type && tf == nullptr) {
      data.assign(t.data, t.data + t.nbytes);  // unchanged
    } else {
      const size_t in_rb = row_bytes(t.type, cols), out_rb = row_bytes(target, cols);
      data.resize(out_rb * size_t(rows));
      std::vector<float> row(cols);
      for (int64_t r = 0; r < rows; ++r) {
        dequantize_row(t.type, t.data + r * in_rb, row.data(), cols);
        if (tf) {
          if (!tf->row_div.empty()) {
            if (t.dims.size() == 1) {
              TURBINE_CHECK(tf->row_div.size() == size_t(cols));
              for (int64_t c = 0; c < cols; ++c) row[c] /= tf->row_div[c];
            } else {
              TURBINE_CHECK(tf->row_div.size() == size_t(rows));
              for (float& v : row) v /= tf->row_div[r];
            }
          }
          if (!tf->col_mul.empty()) {
            TURBINE_CHECK(tf->col_mul.size() == size_t(cols));
            for (int64_t c = 0; c < cols; ++c) row[c] *= tf->col_mul[c];
          }
        }
        uint8_t* dst = data.data() + r * out_rb;
        if (tf && !tf->clip.empty() && target == DType::kW4G128) {
          const int64_t ng = (cols + kW4Group - 1) / kW4Group;
          TURBINE_CHECK(tf->clip.size() == size_t(rows * ng));
          for (int64_t g = 0; g < ng; ++g)
            quantize_w4g128_group(row.data() + g * kW4Group,
                                  static_cast<int>(std::min<int64_t>(kW4Group, cols - g * kW4Group)),
                                  tf->clip[r * ng + g], reinterpret_cast<BlockW4G128*>(dst) + g);
        } else {
          quantize_row(target, row.data(), dst, cols);
        }
      }
    }
    sum.in_bytes += t.nbytes;
    sum.out_bytes += data.size();
    sum.params += t.n_elements();
    ++sum.tensors;
    w.add_tensor(t.name, t.dims, target, std::move(data));
    done += t.nbytes;
    if (opt.progress) opt.progress(double(done) / double(std::max<size_t>(total, 1)));
  }
  // The writer writes beside the target and renames: a failure leaves nothing half-written.
  if (Status s = w.write(out_path); !s) return Error{s.error()};
  return sum;
}

}  // namespace turbine
