// GGUF writer (version 3): metadata and tensors in memory, written in one pass. Used by
// `turbine synth` and `turbine quantize`, and by tests that build files byte by byte.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/gguf/gguf_file.h"

namespace turbine {

class GgufWriter {
 public:
  explicit GgufWriter(size_t alignment = 32) : alignment_(alignment) {}

  void set(const std::string& key, GgufValue v);
  void set_u32(const std::string& key, uint32_t v) { set(key, {GgufType::kUint32, uint64_t{v}}); }
  void set_i32(const std::string& key, int32_t v) { set(key, {GgufType::kInt32, int64_t{v}}); }
  void set_f32(const std::string& key, float v) { set(key, {GgufType::kFloat32, double{v}}); }
  void set_bool(const std::string& key, bool v) { set(key, {GgufType::kBool, v}); }
  void set_string(const std::string& key, std::string v) { set(key, {GgufType::kString, std::move(v)}); }
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);

  // `data` holds the tensor in `type`'s storage layout (row_bytes(type, dims[0]) per row).
  void add_tensor(const std::string& name, std::vector<int64_t> dims, DType type,
                  std::vector<uint8_t> data);

  std::vector<uint8_t> to_bytes() const;
  std::vector<uint8_t> header_bytes() const;  // everything before the tensor data
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    std::vector<int64_t> dims;
    DType type;
    std::vector<uint8_t> data;
  };
  size_t alignment_;
  std::vector<std::pair<std::string, GgufValue>> kv_;
  std::vector<Tensor> tensors_;
};

}  // namespace turbine
