// The fuzz seed corpus (written by the independent `gguf` Python package through
// scripts/make-fuzz-seeds) parses as that writer meant it, and the broken seeds fail.
#include <gtest/gtest.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/gguf/gguf_file.h"

namespace turbine {
namespace {

std::string corpus(const char* name) {
  return std::string(TURBINE_SOURCE_DIR) + "/tests/fuzz/corpus/gguf/" + name;
}

TEST(GgufCorpus, ValidSeedsParseAsWritten) {
  auto f = GgufFile::open(corpus("tensors.gguf"));
  ASSERT_TRUE(f.ok()) << f.error();
  const GgufFile& g = **f;
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_int("llama.block_count"), 2);
  EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"a", "b", "ab", "<|im_end|>"}));
  EXPECT_EQ(g.get_int_array("tokenizer.ggml.token_type"), (std::vector<int32_t>{1, 1, 1, 3}));
  EXPECT_EQ(g.get_bool("some.bool"), true);
  ASSERT_EQ(g.tensors().size(), 3u);
  const GgufTensor* t = g.find_tensor("f32");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->dims, (std::vector<int64_t>{32, 2}));
  float last;
  std::memcpy(&last, t->data + t->nbytes - 4, 4);
  EXPECT_EQ(last, 63.0f);
  EXPECT_EQ(g.find_tensor("f16")->type, DType::kF16);
  EXPECT_EQ(g.find_tensor("q8")->type, DType::kQ8_0);
  EXPECT_TRUE(GgufFile::open(corpus("metadata_only.gguf")).ok());
}

TEST(GgufCorpus, BrokenSeedsFail) {
  auto v1 = GgufFile::open(corpus("version1.gguf"));
  ASSERT_FALSE(v1.ok());
  EXPECT_NE(v1.error().find("version 1"), std::string::npos);
  auto tr = GgufFile::open(corpus("truncated.gguf"));
  ASSERT_FALSE(tr.ok());
  EXPECT_NE(tr.error().find("truncated"), std::string::npos) << tr.error();
}

// Every file in the corpus (including any the fuzzer added) parses or fails cleanly.
TEST(GgufCorpus, EveryCorpusFileIsHandled) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(corpus(""))) {
    std::ifstream in(e.path(), std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
    auto f = GgufFile::parse(bytes, e.path().string());
    if (!f.ok()) {
      EXPECT_FALSE(f.error().empty());
    }
    ++n;
  }
  EXPECT_GE(n, 4);
}

}  // namespace
}  // namespace turbine
