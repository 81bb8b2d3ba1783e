// The byte-level BPE tokenizer of a tiny synthetic model, for response-shape tests.
#pragma once
#include <gtest/gtest.h>

#include <vector>

#include "engine/gguf/gguf_file.h"
#include "engine/model/llama_model.h"
#include "engine/model/synth.h"
#include "engine/tokenizer/tokenizer.h"

namespace turbine {

inline const Tokenizer& tiny_tokenizer() {
  static const Tokenizer* tok = [] {
    SynthOptions o;
    auto w = synth_model(o);
    EXPECT_TRUE(w.ok());
    static std::vector<uint8_t> bytes = w->to_bytes();
    auto f = GgufFile::parse(bytes, "synth");
    EXPECT_TRUE(f.ok());
    auto v = vocab_from_gguf(**f);
    EXPECT_TRUE(v.ok());
    auto t = Tokenizer::create(std::move(*v));
    EXPECT_TRUE(t.ok());
    return new Tokenizer(std::move(*t));
  }();
  return *tok;
}

}  // namespace turbine
