// tokenizer.ggml.* metadata -> VocabData. Lives with the model (not the tokenizer) so the
// tokenizer stays free of file formats.
#include "engine/model/llama_model.h"

namespace turbine {

Result<VocabData> vocab_from_gguf(const GgufFile& f) {
  VocabData v;
  auto model = f.get_string("tokenizer.ggml.model");
  if (!model) return Error{"model '" + f.path() + "' has no tokenizer (tokenizer.ggml.model is missing)"};
  v.model = *model;
  v.pre = f.get_string("tokenizer.ggml.pre").value_or("default");
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty())
    return Error{"model '" + f.path() + "' has no tokenizer.ggml.tokens string array"};
  v.tokens = std::move(*tokens);
  const size_t n = v.tokens.size();
  if (f.find("tokenizer.ggml.scores")) {
    auto s = f.get_float_array("tokenizer.ggml.scores");
    if (!s || s->size() != n)
      return Error{"model '" + f.path() + "': tokenizer.ggml.scores must be a float array of " +
                   std::to_string(n) + " entries"};
    v.scores = std::move(*s);
  }
  if (f.find("tokenizer.ggml.token_type")) {
    auto t = f.get_int_array("tokenizer.ggml.token_type");
    if (!t || t->size() != n)
      return Error{"model '" + f.path() + "': tokenizer.ggml.token_type must be an int array of " +
                   std::to_string(n) + " entries"};
    v.token_types = std::move(*t);
  }
  if (f.find("tokenizer.ggml.merges")) {
    auto m = f.get_string_array("tokenizer.ggml.merges");
    if (!m) return Error{"model '" + f.path() + "': tokenizer.ggml.merges must be a string array"};
    v.merges = std::move(*m);
  }
  auto id = [&](const char* key, int32_t& out) -> Status {
    auto x = f.get_int(key);
    if (!x) return {};
    if (*x < 0 || *x >= static_cast<int64_t>(n))
      return Error{"model '" + f.path() + "': " + key + " = " + std::to_string(*x) +
                   " is not a token id (vocabulary has " + std::to_string(n) + " tokens)"};
    out = static_cast<int32_t>(*x);
    return {};
  };
  for (Status s : {id("tokenizer.ggml.bos_token_id", v.bos_id), id("tokenizer.ggml.eos_token_id", v.eos_id),
                   id("tokenizer.ggml.unknown_token_id", v.unk_id),
                   id("tokenizer.ggml.padding_token_id", v.pad_id),
                   id("tokenizer.ggml.eot_token_id", v.eot_id)})
    if (!s) return Error{s.error()};
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(v.model == "llama");
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(v.model == "llama");
  v.chat_template = f.get_string("tokenizer.chat_template").value_or("");
  // A Gemma GGUF without a template (Gemma-3 270M's has none) still speaks Gemma's turns;
  // llama-server would fall back to ChatML, which the model was never trained on.
  if (v.chat_template.empty() && f.get_string("general.architecture").value_or("") == "gemma3")
    v.chat_template = "gemma";
  return v;
}

}  // namespace turbine
