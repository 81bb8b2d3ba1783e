#include "engine/gguf/gguf_writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>

namespace turbine {
namespace {

class Out {
 public:
  std::vector<uint8_t> bytes;
  template <typename T>
  void put(T v) {
    size_t n = bytes.size();
    bytes.resize(n + sizeof(T));
    std::memcpy(bytes.data() + n, &v, sizeof(T));
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
  }
  void pad_to(size_t alignment) {
    while (bytes.size() % alignment) bytes.push_back(0);
  }

  void put_value(const GgufValue& v) {
    switch (v.type) {
      case GgufType::kUint8: put<uint8_t>(std::get<uint64_t>(v.v)); break;
      case GgufType::kInt8: put<int8_t>(std::get<int64_t>(v.v)); break;
      case GgufType::kUint16: put<uint16_t>(std::get<uint64_t>(v.v)); break;
      case GgufType::kInt16: put<int16_t>(std::get<int64_t>(v.v)); break;
      case GgufType::kUint32: put<uint32_t>(std::get<uint64_t>(v.v)); break;
      case GgufType::kInt32: put<int32_t>(std::get<int64_t>(v.v)); break;
      case GgufType::kUint64: put<uint64_t>(std::get<uint64_t>(v.v)); break;
      case GgufType::kInt64: put<int64_t>(std::get<int64_t>(v.v)); break;
      case GgufType::kFloat32: put<float>(static_cast<float>(std::get<double>(v.v))); break;
      case GgufType::kFloat64: put<double>(std::get<double>(v.v)); break;
      case GgufType::kBool: put<uint8_t>(std::get<bool>(v.v) ? 1 : 0); break;
      case GgufType::kString: put_string(std::get<std::string>(v.v)); break;
      case GgufType::kArray: {
        const GgufArray& a = std::get<GgufArray>(v.v);
        put<uint32_t>(static_cast<uint32_t>(a.elem_type));
        put<uint64_t>(a.items.size());
        for (const GgufValue& e : a.items) put_value(e);
        break;
      }
    }
  }
};

}  // namespace

void GgufWriter::set(const std::string& key, GgufValue v) {
  for (auto& [k, old] : kv_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::set_strings(const std::string& key, const std::vector<std::string>& v) {
  GgufArray a{GgufType::kString, {}};
  a.items.reserve(v.size());
  for (const auto& s : v) a.items.push_back({GgufType::kString, s});
  set(key, {GgufType::kArray, std::move(a)});
}
void GgufWriter::set_f32s(const std::string& key, const std::vector<float>& v) {
  GgufArray a{GgufType::kFloat32, {}};
  a.items.reserve(v.size());
  for (float f : v) a.items.push_back({GgufType::kFloat32, double{f}});
  set(key, {GgufType::kArray, std::move(a)});
}
void GgufWriter::set_i32s(const std::string& key, const std::vector<int32_t>& v) {
  GgufArray a{GgufType::kInt32, {}};
  a.items.reserve(v.size());
  for (int32_t i : v) a.items.push_back({GgufType::kInt32, int64_t{i}});
  set(key, {GgufType::kArray, std::move(a)});
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> dims, DType type,
                            std::vector<uint8_t> data) {
  tensors_.push_back({name, std::move(dims), type, std::move(data)});
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  Out o;
  o.put<uint32_t>(0x46554747);
  o.put<uint32_t>(3);
  o.put<uint64_t>(tensors_.size());
  bool has_alignment = false;
  for (const auto& [k, v] : kv_) has_alignment |= k == "general.alignment";
  o.put<uint64_t>(kv_.size() + (alignment_ != 32 && !has_alignment ? 1 : 0));
  for (const auto& [k, v] : kv_) {
    o.put_string(k);
    o.put<uint32_t>(static_cast<uint32_t>(v.type));
    o.put_value(v);
  }
  if (alignment_ != 32 && !has_alignment) {
    o.put_string("general.alignment");
    o.put<uint32_t>(static_cast<uint32_t>(GgufType::kUint32));
    o.put<uint32_t>(static_cast<uint32_t>(alignment_));
  }
  uint64_t offset = 0;
  for (const Tensor& t : tensors_) {
    o.put_string(t.name);
    o.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) o.put<uint64_t>(static_cast<uint64_t>(d));
    o.put<uint32_t>(static_cast<uint32_t>(t.type));
    o.put<uint64_t>(offset);
    offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
  }
  o.pad_to(alignment_);
  return std::move(o.bytes);
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  Out o;
  o.bytes = header_bytes();
  for (const Tensor& t : tensors_) {
    o.bytes.insert(o.bytes.end(), t.data.begin(), t.data.end());
    o.pad_to(alignment_);
  }
  return std::move(o.bytes);
}

Status GgufWriter::write(const std::string& path) const {
  // Streamed tensor by tensor: a 7B-shaped synthetic model must not be copied in memory.
  std::string tmp = path + ".partial";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) return Error{"cannot create '" + tmp + "': " + std::strerror(errno)};
  std::vector<uint8_t> header = header_bytes();
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
  static const uint8_t kZeros[256] = {};
  for (const Tensor& t : tensors_) {
    ok = ok && std::fwrite(t.data.data(), 1, t.data.size(), f) == t.data.size();
    size_t pad = (alignment_ - t.data.size() % alignment_) % alignment_;
    for (size_t n; ok && pad > 0; pad -= n) {
      n = std::min(pad, sizeof(kZeros));
      ok = std::fwrite(kZeros, 1, n, f) == n;
    }
  }
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return Error{"cannot write '" + path + "': " + std::strerror(errno)};
  }
  return {};
}

}  // namespace turbine
