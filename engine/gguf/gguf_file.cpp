#include "engine/gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

namespace turbine {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
constexpr int kMaxDims = 4;
// Nesting deeper than this is no real model's metadata; the limit keeps a hostile file
// from exhausting the stack.
constexpr int kMaxArrayDepth = 8;

// A bounds-checked little-endian cursor. Every read either succeeds or records the first
// error with the byte offset where it happened.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> b) : b_(b) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return b_.size() - pos_; }
  bool failed() const { return !err_.empty(); }
  const std::string& error() const { return err_; }

  void fail(std::string msg) {
    if (err_.empty()) err_ = std::move(msg) + " (at byte " + std::to_string(pos_) + ")";
  }

  template <typename T>
  T read(const char* what) {
    T v{};
    if (failed()) return v;
    if (remaining() < sizeof(T)) {
      fail(std::string("file is truncated while reading ") + what);
      return v;
    }
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    if (failed()) return {};
    if (n > remaining()) {
      fail(std::string(what) + " has length " + std::to_string(n) + " beyond the end of the file");
      return {};
    }
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> b_;
  size_t pos_ = 0;
  std::string err_;
};

size_t min_encoded_size(GgufType t) {
  switch (t) {
    case GgufType::kUint8: case GgufType::kInt8: case GgufType::kBool: return 1;
    case GgufType::kUint16: case GgufType::kInt16: return 2;
    case GgufType::kUint32: case GgufType::kInt32: case GgufType::kFloat32: return 4;
    case GgufType::kUint64: case GgufType::kInt64: case GgufType::kFloat64: return 8;
    case GgufType::kString: return 8;
    case GgufType::kArray: return 12;
  }
  return 0;
}

bool valid_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufType::kFloat64); }

GgufValue read_value(Cursor& c, GgufType type, int depth, const std::string& key) {
  GgufValue out;
  out.type = type;
  switch (type) {
    case GgufType::kUint8: out.v = uint64_t{c.read<uint8_t>("a uint8 value")}; break;
    case GgufType::kInt8: out.v = int64_t{c.read<int8_t>("an int8 value")}; break;
    case GgufType::kUint16: out.v = uint64_t{c.read<uint16_t>("a uint16 value")}; break;
    case GgufType::kInt16: out.v = int64_t{c.read<int16_t>("an int16 value")}; break;
    case GgufType::kUint32: out.v = uint64_t{c.read<uint32_t>("a uint32 value")}; break;
    case GgufType::kInt32: out.v = int64_t{c.read<int32_t>("an int32 value")}; break;
    case GgufType::kUint64: out.v = c.read<uint64_t>("a uint64 value"); break;
    case GgufType::kInt64: out.v = c.read<int64_t>("an int64 value"); break;
    case GgufType::kFloat32: out.v = double{c.read<float>("a float32 value")}; break;
    case GgufType::kFloat64: out.v = c.read<double>("a float64 value"); break;
    case GgufType::kBool: {
      uint8_t b = c.read<uint8_t>("a bool value");
      if (b > 1) c.fail("metadata '" + key + "' has a bool value other than 0 or 1");
      out.v = b != 0;
      break;
    }
    case GgufType::kString: out.v = c.read_string("a string value"); break;
    case GgufType::kArray: {
      if (depth >= kMaxArrayDepth) {
        c.fail("metadata '" + key + "' nests arrays deeper than " + std::to_string(kMaxArrayDepth));
        break;
      }
      uint32_t et = c.read<uint32_t>("an array element type");
      uint64_t n = c.read<uint64_t>("an array length");
      if (c.failed()) break;
      if (!valid_type(et)) {
        c.fail("metadata '" + key + "' is an array of unknown type " + std::to_string(et));
        break;
      }
      GgufArray arr;
      arr.elem_type = static_cast<GgufType>(et);
      // Each element needs at least min_encoded_size bytes, so a count the remaining file
      // cannot hold is rejected before any allocation.
      if (n > c.remaining() / min_encoded_size(arr.elem_type)) {
        c.fail("metadata '" + key + "' claims " + std::to_string(n) +
               " array elements, more than the file can hold");
        break;
      }
      arr.items.reserve(n);
      for (uint64_t i = 0; i < n && !c.failed(); ++i)
        arr.items.push_back(read_value(c, arr.elem_type, depth + 1, key));
      out.v = std::move(arr);
      break;
    }
  }
  return out;
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  static constexpr std::string_view kNames[] = {"uint8", "int8",   "uint16", "int16", "uint32",
                                                "int32", "float32", "bool",  "string", "array",
                                                "uint64", "int64",  "float64"};
  auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::optional<int64_t> GgufValue::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  return std::nullopt;
}

std::optional<double> GgufValue::as_float() const {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto i = as_int()) return static_cast<double>(*i);
  return std::nullopt;
}

const std::string* GgufValue::as_string() const { return std::get_if<std::string>(&v); }
const GgufArray* GgufValue::as_array() const { return std::get_if<GgufArray>(&v); }

int64_t GgufTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

GgufFile::~GgufFile() {
  if (map_) munmap(map_, size_);
}

Result<std::shared_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{"cannot open model file '" + path + "': " + std::strerror(errno)};
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{"model file '" + path + "' is not a regular file"};
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return Error{"model file '" + path + "' is empty"};
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) return Error{"cannot map '" + path + "': " + std::strerror(map_errno)};
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->map_ = map;
  f->size_ = size;
  Status s = f->parse_all({static_cast<const uint8_t*>(map), size});
  if (!s) return Error{s.error()};
  return f;
}

Result<std::shared_ptr<GgufFile>> GgufFile::parse(std::span<const uint8_t> bytes,
                                                  std::string name) {
  std::shared_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(name);
  f->size_ = bytes.size();
  Status s = f->parse_all(bytes);
  if (!s) return Error{s.error()};
  return f;
}

Status GgufFile::parse_all(std::span<const uint8_t> bytes) {
  auto err = [&](const std::string& m) { return Error{"invalid GGUF file '" + path_ + "': " + m}; };
  Cursor c(bytes);
  uint32_t magic = c.read<uint32_t>("the magic number");
  if (c.failed()) return err("too short to be a GGUF file (" + std::to_string(bytes.size()) + " bytes)");
  if (magic != kMagic) return err("wrong magic number (not a GGUF file)");
  version_ = c.read<uint32_t>("the version");
  if (!c.failed() && (version_ < 2 || version_ > 3))
    return err("unsupported GGUF version " + std::to_string(version_) + " (supported: 2 and 3)");
  uint64_t n_tensors = c.read<uint64_t>("the tensor count");
  uint64_t n_kv = c.read<uint64_t>("the metadata count");
  if (c.failed()) return err(c.error());
  // A metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes, a tensor info at
  // least 8 + 4 + 8 + 4 + 8: counts the file cannot hold are absurd, not a reason to allocate.
  if (n_kv > c.remaining() / 13) return err("metadata count " + std::to_string(n_kv) + " is absurd for a file of this size");
  if (n_tensors > c.remaining() / 32) return err("tensor count " + std::to_string(n_tensors) + " is absurd for a file of this size");

  for (uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.read_string("a metadata key");
    uint32_t t = c.read<uint32_t>("a metadata type");
    if (c.failed()) return err(c.error());
    if (!valid_type(t)) return err("metadata '" + key + "' has unknown type " + std::to_string(t));
    GgufValue v = read_value(c, static_cast<GgufType>(t), 0, key);
    if (c.failed()) return err(c.error());
    if (kv_.count(key)) return err("metadata key '" + key + "' appears twice");
    kv_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    auto al = a->as_int();
    if (!al || *al <= 0 || *al > (1 << 20) || (*al & (*al - 1)) != 0)
      return err("general.alignment must be a power of two (got " +
                 (al ? std::to_string(*al) : std::string(gguf_type_name(a->type))) + ")");
    alignment_ = static_cast<size_t>(*al);
  }

  tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    GgufTensor t;
    t.name = c.read_string("a tensor name");
    uint32_t nd = c.read<uint32_t>("a tensor's dimension count");
    if (c.failed()) return err(c.error());
    if (nd == 0 || nd > kMaxDims)
      return err("tensor '" + t.name + "' has " + std::to_string(nd) + " dimensions (1 to 4 allowed)");
    for (uint32_t d = 0; d < nd; ++d) {
      uint64_t ne = c.read<uint64_t>("a tensor dimension");
      if (c.failed()) return err(c.error());
      if (ne == 0 || ne > (uint64_t{1} << 40))
        return err("tensor '" + t.name + "' has an invalid dimension " + std::to_string(ne));
      t.dims.push_back(static_cast<int64_t>(ne));
    }
    uint32_t type = c.read<uint32_t>("a tensor type");
    t.offset = c.read<uint64_t>("a tensor offset");
    if (c.failed()) return err(c.error());
    const DTypeTraits* tr = dtype_traits(type);
    if (!tr || tr->block_elems == 0)
      return err("tensor '" + t.name + "' has unsupported type id " + std::to_string(type) +
                 " (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K, W4G128)");
    t.type = static_cast<DType>(type);
    // Overflow-safe element count.
    unsigned __int128 n = 1;
    for (int64_t d : t.dims) n *= static_cast<uint64_t>(d);
    if (n > (unsigned __int128)(uint64_t{1} << 48))
      return err("tensor '" + t.name + "' has too many elements");
    const int granule = row_granule(t.type);
    if (t.dims[0] % granule != 0)
      return err("tensor '" + t.name + "' row length " + std::to_string(t.dims[0]) +
                 " is not a multiple of the " + std::string(tr->name) + " block size " +
                 std::to_string(granule));
    t.nbytes = static_cast<size_t>(n / static_cast<uint64_t>(t.dims[0]) * row_bytes(t.type, t.dims[0]));
    if (tensor_index_.count(t.name)) return err("tensor '" + t.name + "' appears twice");
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  size_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > bytes.size() && n_tensors > 0)
    return err("file is truncated before the tensor data");
  size_t data_size = bytes.size() > data_start ? bytes.size() - data_start : 0;
  for (GgufTensor& t : tensors_) {
    if (t.offset % alignment_ != 0)
      return err("tensor '" + t.name + "' data offset " + std::to_string(t.offset) +
                 " is not aligned to " + std::to_string(alignment_));
    if (t.offset > data_size || t.nbytes > data_size - t.offset)
      return err("tensor '" + t.name + "' data (offset " + std::to_string(t.offset) + ", " +
                 std::to_string(t.nbytes) + " bytes) lies beyond the end of the file; is it truncated?");
    t.data = bytes.data() + data_start + t.offset;
  }
  return {};
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = kv_.find(std::string(key));
  return it == kv_.end() ? nullptr : &it->second;
}

std::optional<int64_t> GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_int() : std::nullopt;
}
std::optional<double> GgufFile::get_float(std::string_view key) const {
  const GgufValue* v = find(key);
  return v ? v->as_float() : std::nullopt;
}
std::optional<std::string> GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v || !v->as_string()) return std::nullopt;
  return *v->as_string();
}
std::optional<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (auto* b = std::get_if<bool>(&v->v)) return *b;
  return std::nullopt;
}

std::optional<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
  const GgufValue* v = find(key);
  const GgufArray* a = v ? v->as_array() : nullptr;
  if (!a || a->elem_type != GgufType::kString) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(a->items.size());
  for (const GgufValue& e : a->items) out.push_back(*e.as_string());
  return out;
}
std::optional<std::vector<float>> GgufFile::get_float_array(std::string_view key) const {
  const GgufValue* v = find(key);
  const GgufArray* a = v ? v->as_array() : nullptr;
  if (!a || a->elem_type == GgufType::kString || a->elem_type == GgufType::kArray) return std::nullopt;
  std::vector<float> out;
  out.reserve(a->items.size());
  for (const GgufValue& e : a->items) out.push_back(static_cast<float>(*e.as_float()));
  return out;
}
std::optional<std::vector<int32_t>> GgufFile::get_int_array(std::string_view key) const {
  const GgufValue* v = find(key);
  const GgufArray* a = v ? v->as_array() : nullptr;
  if (!a) return std::nullopt;
  std::vector<int32_t> out;
  out.reserve(a->items.size());
  for (const GgufValue& e : a->items) {
    auto i = e.as_int();
    if (!i || *i < std::numeric_limits<int32_t>::min() || *i > std::numeric_limits<int32_t>::max())
      return std::nullopt;
    out.push_back(static_cast<int32_t>(*i));
  }
  return out;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<const GgufTensor*> GgufFile::require_tensor(std::string_view name,
                                                   std::initializer_list<int64_t> dims) const {
  const GgufTensor* t = find_tensor(name);
  if (!t) return Error{"model '" + path_ + "' has no tensor '" + std::string(name) + "'"};
  auto shape = [](auto&& d) {
    std::string s = "[";
    for (int64_t x : d) s += (s.size() > 1 ? ", " : "") + std::to_string(x);
    return s + "]";
  };
  if (!std::equal(t->dims.begin(), t->dims.end(), dims.begin(), dims.end()))
    return Error{"model '" + path_ + "': tensor '" + std::string(name) + "' has shape " +
                 shape(t->dims) + ", expected " + shape(dims)};
  return t;
}

size_t GgufFile::tensor_data_bytes() const {
  size_t n = 0;
  for (const auto& t : tensors_) n += t.nbytes;
  return n;
}

}  // namespace turbine
