#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "engine/gguf/gguf_file.h"
#include "engine/gguf/gguf_writer.h"

namespace turbine {
namespace {

GgufWriter small_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_i32("answer", -42);
  w.set_f32("pi", 3.25f);
  w.set_bool("flag", true);
  w.set("u8", {GgufType::kUint8, uint64_t{200}});
  w.set("i8", {GgufType::kInt8, int64_t{-5}});
  w.set("u16", {GgufType::kUint16, uint64_t{60000}});
  w.set("i16", {GgufType::kInt16, int64_t{-30000}});
  w.set("u64", {GgufType::kUint64, uint64_t{1} << 40});
  w.set("i64", {GgufType::kInt64, int64_t{-(int64_t{1} << 40)}});
  w.set("f64", {GgufType::kFloat64, 0.125});
  w.set_strings("names", {"a", "bc", ""});
  w.set_f32s("scores", {1.5f, -2.0f});
  w.set_i32s("ids", {7, -8, 9});
  GgufArray inner{GgufType::kUint32, {{GgufType::kUint32, uint64_t{1}}, {GgufType::kUint32, uint64_t{2}}}};
  GgufArray outer{GgufType::kArray, {{GgufType::kArray, inner}, {GgufType::kArray, inner}}};
  w.set("nested", {GgufType::kArray, outer});
  std::vector<float> f(64);
  for (int i = 0; i < 64; ++i) f[i] = i * 0.5f;
  std::vector<uint8_t> bytes(f.size() * 4);
  std::memcpy(bytes.data(), f.data(), bytes.size());
  w.add_tensor("w", {32, 2}, DType::kF32, bytes);
  std::vector<uint8_t> q(row_bytes(DType::kQ8_0, 64), 1);
  w.add_tensor("q", {64}, DType::kQ8_0, q);
  return w;
}

TEST(GgufFile, RoundTripsEveryMetadataTypeAndTensors) {
  std::vector<uint8_t> bytes = small_writer().to_bytes();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error();
  const GgufFile& g = **f;
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.block_count"), 2);
  EXPECT_EQ(g.get_int("answer"), -42);
  EXPECT_EQ(g.get_float("pi"), 3.25);
  EXPECT_EQ(g.get_bool("flag"), true);
  EXPECT_EQ(g.get_int("u8"), 200);
  EXPECT_EQ(g.get_int("i8"), -5);
  EXPECT_EQ(g.get_int("u16"), 60000);
  EXPECT_EQ(g.get_int("i16"), -30000);
  EXPECT_EQ(g.get_int("u64"), int64_t{1} << 40);
  EXPECT_EQ(g.get_int("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(g.get_float("f64"), 0.125);
  EXPECT_EQ(g.get_string_array("names"), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(g.get_float_array("scores"), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(g.get_int_array("ids"), (std::vector<int32_t>{7, -8, 9}));
  const GgufArray* nested = g.find("nested")->as_array();
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->items.size(), 2u);
  EXPECT_EQ(nested->items[1].as_array()->items[1].as_int(), 2);
  EXPECT_FALSE(g.get_string("missing").has_value());
  EXPECT_FALSE(g.get_string("answer").has_value());  // wrong type is "absent", not a crash

  ASSERT_EQ(g.tensors().size(), 2u);
  const GgufTensor* w = g.find_tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->type, DType::kF32);
  EXPECT_EQ(w->n_elements(), 64);
  EXPECT_EQ(static_cast<size_t>(w->data - bytes.data()) % g.alignment(), 0u);
  float v;
  std::memcpy(&v, w->data + 4 * 63, 4);
  EXPECT_EQ(v, 31.5f);
  EXPECT_TRUE(g.require_tensor("w", {32, 2}).ok());
  auto wrong = g.require_tensor("w", {64});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().find("shape [32, 2], expected [64]"), std::string::npos) << wrong.error();
  auto missing = g.require_tensor("nope", {1});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("no tensor 'nope'"), std::string::npos);
}

TEST(GgufFile, CustomAlignmentIsHonoured) {
  GgufWriter w(64);
  std::vector<uint8_t> a(4 * 32, 0), b(4 * 32, 0);
  w.add_tensor("a", {32}, DType::kF32, a);
  w.add_tensor("b", {32}, DType::kF32, b);
  std::vector<uint8_t> bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes);
  ASSERT_TRUE(f.ok()) << f.error();
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->find_tensor("b")->offset % 64, 0u);
}

// Every strict prefix of a valid file must be rejected with a message, never crash.
TEST(GgufFile, EveryTruncationIsAnError) {
  std::vector<uint8_t> bytes = small_writer().to_bytes();
  // Only the padding after the last tensor may be cut.
  auto full = GgufFile::parse(bytes);
  ASSERT_TRUE(full.ok());
  size_t needed = 0;
  for (const auto& t : (*full)->tensors())
    needed = std::max(needed, static_cast<size_t>(t.data - bytes.data()) + t.nbytes);
  ASSERT_GT(needed, bytes.size() - 32);
  for (size_t n = 0; n < needed; ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    auto f = GgufFile::parse(prefix);
    ASSERT_FALSE(f.ok()) << "prefix of " << n << " bytes parsed";
    EXPECT_FALSE(f.error().empty());
  }
}

struct Corruption {
  const char* name;
  size_t offset;  // byte offset to overwrite
  std::vector<uint8_t> value;
  const char* expect;  // substring of the error
};

TEST(GgufFile, CorruptHeadersGiveClearErrors) {
  const std::vector<uint8_t> good = small_writer().to_bytes();
  auto le32 = [](uint32_t x) { std::vector<uint8_t> v(4); std::memcpy(v.data(), &x, 4); return v; };
  auto le64 = [](uint64_t x) { std::vector<uint8_t> v(8); std::memcpy(v.data(), &x, 8); return v; };
  const std::vector<Corruption> cases = {
      {"wrong magic", 0, {'G', 'G', 'M', 'L'}, "wrong magic"},
      {"version 1", 4, le32(1), "unsupported GGUF version 1"},
      {"version 4", 4, le32(4), "unsupported GGUF version 4"},
      {"absurd tensor count", 8, le64(uint64_t{1} << 60), "tensor count"},
      {"absurd metadata count", 16, le64(uint64_t{1} << 60), "metadata count"},
      {"key longer than file", 24, le64(uint64_t{1} << 50), "beyond the end of the file"},
  };
  for (const auto& c : cases) {
    std::vector<uint8_t> b = good;
    std::copy(c.value.begin(), c.value.end(), b.begin() + c.offset);
    auto f = GgufFile::parse(b);
    ASSERT_FALSE(f.ok()) << c.name;
    EXPECT_NE(f.error().find(c.expect), std::string::npos) << c.name << ": " << f.error();
  }
}

// Builds a file with one tensor and lets the test patch its info fields.
std::vector<uint8_t> one_tensor_file(uint32_t type, uint32_t n_dims, uint64_t dim0,
                                     uint64_t offset, size_t data_bytes) {
  std::vector<uint8_t> b;
  auto put = [&](auto x) {
    size_t n = b.size();
    b.resize(n + sizeof(x));
    std::memcpy(b.data() + n, &x, sizeof(x));
  };
  put(uint32_t{0x46554747});
  put(uint32_t{3});
  put(uint64_t{1});
  put(uint64_t{0});
  put(uint64_t{1});
  b.push_back('t');
  put(n_dims);
  for (uint32_t i = 0; i < n_dims; ++i) put(i == 0 ? dim0 : uint64_t{1});
  put(type);
  put(offset);
  while (b.size() % 32) b.push_back(0);
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(GgufFile, BadTensorInfosGiveClearErrors) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* expect;
  };
  const std::vector<Case> cases = {
      {"valid", one_tensor_file(0, 1, 32, 0, 128), ""},
      {"unknown type", one_tensor_file(99, 1, 32, 0, 128), "unsupported type id 99"},
      {"zero dims", one_tensor_file(0, 0, 32, 0, 128), "0 dimensions"},
      {"five dims", one_tensor_file(0, 5, 32, 0, 128), "5 dimensions"},
      {"zero extent", one_tensor_file(0, 1, 0, 0, 128), "invalid dimension 0"},
      {"row not multiple of block", one_tensor_file(8, 1, 33, 0, 128), "not a multiple"},
      {"data beyond end", one_tensor_file(0, 1, 32, 0, 64), "beyond the end"},
      {"offset beyond end", one_tensor_file(0, 1, 32, 1 << 20, 128), "beyond the end"},
      {"misaligned offset", one_tensor_file(0, 1, 8, 4, 128), "not aligned"},
      {"huge extent", one_tensor_file(0, 1, uint64_t{1} << 50, 0, 128), "invalid dimension"},
  };
  for (const auto& c : cases) {
    auto f = GgufFile::parse(c.bytes);
    if (std::string(c.expect).empty()) {
      EXPECT_TRUE(f.ok()) << c.name << ": " << f.error();
      continue;
    }
    ASSERT_FALSE(f.ok()) << c.name;
    EXPECT_NE(f.error().find(c.expect), std::string::npos) << c.name << ": " << f.error();
  }
}

TEST(GgufFile, BadMetadataValues) {
  auto with_kv = [](uint32_t type, std::vector<uint8_t> payload) {
    std::vector<uint8_t> b;
    auto put = [&](auto x) {
      size_t n = b.size();
      b.resize(n + sizeof(x));
      std::memcpy(b.data() + n, &x, sizeof(x));
    };
    put(uint32_t{0x46554747});
    put(uint32_t{3});
    put(uint64_t{0});
    put(uint64_t{1});
    put(uint64_t{1});
    b.push_back('k');
    put(type);
    b.insert(b.end(), payload.begin(), payload.end());
    b.resize(b.size() + 64, 0);  // slack so only the value itself is wrong
    return b;
  };
  auto arr = [](uint32_t elem, uint64_t n) {
    std::vector<uint8_t> p(12);
    std::memcpy(p.data(), &elem, 4);
    std::memcpy(p.data() + 4, &n, 8);
    return p;
  };
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    const char* expect;
  };
  std::vector<uint8_t> deep;
  for (int i = 0; i < 20; ++i) {
    auto a = arr(9, 1);
    deep.insert(deep.end(), a.begin(), a.end());
  }
  const std::vector<Case> cases = {
      {"unknown value type", with_kv(77, {}), "unknown type 77"},
      {"bool not 0/1", with_kv(7, {2}), "bool value"},
      {"array count absurd", with_kv(9, arr(4, uint64_t{1} << 40)), "more than the file can hold"},
      {"array of unknown type", with_kv(9, arr(55, 1)), "array of unknown type"},
      {"arrays nested too deep", with_kv(9, deep), "nests arrays deeper"},
  };
  for (const auto& c : cases) {
    auto f = GgufFile::parse(c.bytes);
    ASSERT_FALSE(f.ok()) << c.name;
    EXPECT_NE(f.error().find(c.expect), std::string::npos) << c.name << ": " << f.error();
  }
}

TEST(GgufFile, NonPowerOfTwoAlignmentIsRejected) {
  GgufWriter w;
  w.set_u32("general.alignment", 48);
  auto f = GgufFile::parse(w.to_bytes());
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.error().find("power of two"), std::string::npos) << f.error();
}

TEST(GgufFile, OpenReportsFileProblems) {
  auto missing = GgufFile::open("/nonexistent/model.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot open"), std::string::npos);

  auto dir = GgufFile::open(std::filesystem::temp_directory_path().string());
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().find("not a regular file"), std::string::npos);

  auto path = std::filesystem::temp_directory_path() / ("turbine_empty_" + std::to_string(getpid()) + ".gguf");
  { std::ofstream(path.string()); }
  auto empty = GgufFile::open(path.string());
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().find("empty"), std::string::npos);

  // A real file written by the writer opens through mmap and matches parse().
  ASSERT_TRUE(small_writer().write(path.string()).ok());
  auto ok = GgufFile::open(path.string());
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_EQ((*ok)->tensors().size(), 2u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace turbine
