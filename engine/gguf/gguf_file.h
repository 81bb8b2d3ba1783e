// GGUF reader: the file is mmap'd and parsed with every read bounds-checked, so a truncated
// or hostile file yields an error message, never a crash. Tensor data stays in the mapping
// (zero-copy); metadata is copied out because it is small.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"
#include "base/dtype.h"

namespace turbine {

enum class GgufType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
std::string_view gguf_type_name(GgufType t);

struct GgufValue;
struct GgufArray {
  GgufType elem_type = GgufType::kUint8;
  std::vector<GgufValue> items;
};

// A metadata value. Integers keep their signedness; the GgufType says the stored width.
struct GgufValue {
  GgufType type = GgufType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GgufArray> v;

  std::optional<int64_t> as_int() const;    // any integer type (or bool)
  std::optional<double> as_float() const;   // any numeric type
  const std::string* as_string() const;
  const GgufArray* as_array() const;
};

struct GgufTensor {
  std::string name;
  std::vector<int64_t> dims;  // ne[0] is the fastest-varying (row length)
  DType type = DType::kF32;
  uint64_t offset = 0;        // relative to the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  int64_t n_elements() const;
};

class GgufFile {
 public:
  // Maps and parses `path`. Every malformed input gives an error naming the file and what
  // is wrong with it.
  static Result<std::shared_ptr<GgufFile>> open(const std::string& path);
  // Parses an in-memory image (used by tests and the fuzzer). `bytes` must outlive the file.
  static Result<std::shared_ptr<GgufFile>> parse(std::span<const uint8_t> bytes,
                                                 std::string name = "<memory>");
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  const std::string& path() const { return path_; }
  size_t file_size() const { return size_; }

  const std::map<std::string, GgufValue>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;
  std::optional<int64_t> get_int(std::string_view key) const;
  std::optional<double> get_float(std::string_view key) const;
  std::optional<std::string> get_string(std::string_view key) const;
  std::optional<bool> get_bool(std::string_view key) const;
  // Typed array getters: nullopt when absent or of another element type.
  std::optional<std::vector<std::string>> get_string_array(std::string_view key) const;
  std::optional<std::vector<float>> get_float_array(std::string_view key) const;
  std::optional<std::vector<int32_t>> get_int_array(std::string_view key) const;

  const std::vector<GgufTensor>& tensors() const { return tensors_; }
  const GgufTensor* find_tensor(std::string_view name) const;
  // The tensor `name` with exactly `dims`, or an error saying which is missing or wrong.
  Result<const GgufTensor*> require_tensor(std::string_view name,
                                           std::initializer_list<int64_t> dims) const;
  size_t tensor_data_bytes() const;

 private:
  GgufFile() = default;
  Status parse_all(std::span<const uint8_t> bytes);

  std::string path_;
  void* map_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  std::map<std::string, GgufValue> kv_;
  std::vector<GgufTensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace turbine
