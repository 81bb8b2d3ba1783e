// libFuzzer entry point for the GGUF reader: any byte string must parse or be rejected with
// a message, never crash, hang or read out of bounds (ASan/UBSan watch).
#include <cstddef>
#include <cstdint>

#include "engine/gguf/gguf_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = turbine::GgufFile::parse({data, size}, "fuzz");
  if (f.ok()) {
    // Touch what a loader would: metadata getters and every tensor's bytes.
    const turbine::GgufFile& g = **f;
    (void)g.get_string("general.architecture");
    (void)g.get_string_array("tokenizer.ggml.tokens");
    (void)g.get_float_array("tokenizer.ggml.scores");
    (void)g.get_int_array("tokenizer.ggml.token_type");
    volatile uint8_t sink = 0;
    for (const auto& t : g.tensors())
      if (t.nbytes) sink = sink + t.data[0] + t.data[t.nbytes - 1];
  } else if (f.error().empty()) {
    __builtin_trap();  // every rejection must say why
  }
  return 0;
}
