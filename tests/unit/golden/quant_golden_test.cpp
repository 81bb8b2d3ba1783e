// turbine's dequantization of the newer GGUF weight types against the gguf package's
// (llama.cpp's Python reader): tests/golden/quant_blocks.json, made by
// scripts/make-quant-golden from random blocks. Every float must be identical.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "kernels/quantize.h"

namespace turbine {
namespace {

TEST(GoldenQuant, DequantizationMatchesGgufPyBitForBit) {
  std::ifstream in(std::string(TURBINE_SOURCE_DIR) + "/tests/golden/quant_blocks.json");
  ASSERT_TRUE(in) << "tests/golden/quant_blocks.json is missing (scripts/make-quant-golden)";
  const auto j = nlohmann::json::parse(in);
  ASSERT_EQ(j["types"].size(), 5u);
  for (const auto& t : j["types"]) {
    const auto* tr = dtype_traits(t["id"].get<uint32_t>());
    ASSERT_NE(tr, nullptr) << t["type"];
    EXPECT_EQ(tr->name, t["type"].get<std::string>());
    EXPECT_EQ(tr->block_bytes, t["block_bytes"].get<int>());
    EXPECT_EQ(tr->block_elems, t["block_elems"].get<int>());
    const std::string hex = t["hex"];
    std::vector<uint8_t> raw(hex.size() / 2);
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    const auto want = t["floats"].get<std::vector<float>>();
    ASSERT_EQ(want.size() * tr->block_bytes, raw.size() * tr->block_elems);
    std::vector<float> got(want.size());
    dequantize_row(static_cast<DType>(t["id"].get<uint32_t>()), raw.data(), got.data(), static_cast<int64_t>(got.size()));
    int mismatches = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0 && ++mismatches <= 3)
        ADD_FAILURE() << t["type"] << " element " << i << ": " << got[i] << " vs gguf " << want[i];
    }
    EXPECT_EQ(mismatches, 0) << t["type"];
  }
}

}  // namespace
}  // namespace turbine
