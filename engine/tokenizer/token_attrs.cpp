#include "engine/tokenizer/token_attrs.h"

#include <algorithm>
#include <initializer_list>
#include <set>
#include <string_view>

namespace turbine {
namespace {

using Texts = std::initializer_list<std::string_view>;

bool one_of(std::string_view s, Texts list) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

uint32_t attr_of_type(int32_t type) {
  switch (static_cast<TokenType>(type)) {
    case TokenType::kNormal:
      return kAttrNormal;
    case TokenType::kUnknown:
      return kAttrUnknown;
    case TokenType::kControl:
      return kAttrControl;
    case TokenType::kUserDefined:
      return kAttrUserDefined;
    case TokenType::kUnused:
      return kAttrUnused;
    case TokenType::kByte:
      return kAttrByte;
    default:
      return kAttrUndefined;
  }
}

}  // namespace

SpecialTokens derive_special_tokens(const VocabData& v, const std::vector<std::string>& texts) {
  const auto n = static_cast<int32_t>(texts.size());
  SpecialTokens s;
  s.attrs.assign(texts.size(), kAttrNormal);
  if (!v.token_types.empty())
    for (int32_t i = 0; i < n && i < static_cast<int32_t>(v.token_types.size()); ++i)
      s.attrs[i] = attr_of_type(v.token_types[i]);

  // Finds the first token whose text is in `list` and makes it a control token. llama.cpp
  // walks a hash map here; ids in order are our deterministic stand-in (the lists rarely
  // match twice in one vocabulary).
  auto detect = [&](Texts list) -> int32_t {
    for (int32_t i = 0; i < n; ++i)
      if (one_of(texts[i], list)) {
        s.attrs[i] |= kAttrControl;
        return i;
      }
    return -1;
  };
  auto valid = [&](int32_t id) { return id >= 0 && id < n; };

  s.eot_id = valid(v.eot_id)
                 ? v.eot_id
                 : detect({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                           "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                           "<\xef\xbd\x9c"
                           "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                           "<end_of_utterance>"});
  const int32_t eom = detect({"<|eom_id|>"});
  detect({"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "\xe2\x96\x81<PRE>",
          "<|code_prefix|>", "<|prefix|>"});
  detect({"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "\xe2\x96\x81<SUF>",
          "<|code_suffix|>", "<|suffix|>"});
  detect({"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "\xe2\x96\x81<MID>",
          "<|code_middle|>", "<|middle|>"});
  const int32_t fim_pad = detect({"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  const int32_t fim_rep =
      detect({"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  const int32_t fim_sep = detect({"<|file_sep|>"});

  for (int32_t i = 0; i < n; ++i)
    if ((s.attrs[i] & kAttrControl) && texts[i].find("unused") != std::string::npos)
      s.attrs[i] |= kAttrUnused;

  std::set<int32_t> eog;
  for (int32_t id : {fim_pad, fim_rep, fim_sep})
    if (valid(id)) eog.insert(id);
  for (int32_t i = 0; i < n; ++i) {
    if (one_of(texts[i], {"<|eot_id|>",
                          "<|im_end|>",
                          "<|end|>",
                          "<|return|>",
                          "<|call|>",
                          "<|flush|>",
                          "<|calls|>",
                          "<end_of_turn>",
                          "<|endoftext|>",
                          "</s>",
                          "<|eom_id|>",
                          "<EOT>",
                          "_<EOT>",
                          "[EOT]",
                          "[EOS]",
                          "<|end_of_text|>",
                          "<end_of_utterance>",
                          "<eos>",
                          "<turn|>",
                          "<|tool_response>",
                          "<\xef\xbd\x9c"
                          "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                          "[e~["})) {
      eog.insert(i);
      s.attrs[i] |= kAttrControl;
    }
    // gpt-oss renders these framing tokens as text.
    if (one_of(texts[i], {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}))
      s.attrs[i] = kAttrUserDefined;
  }
  for (int32_t id : {v.eos_id, s.eot_id, eom})
    if (valid(id)) eog.insert(id);

  // Vocabularies where <|end|> or </s> are ordinary turn markers, not the end of generation.
  auto has = [&](Texts list) {
    return std::any_of(eog.begin(), eog.end(), [&](int32_t id) { return one_of(texts[id], list); });
  };
  auto drop = [&](std::string_view text, uint32_t attr) {
    for (auto it = eog.begin(); it != eog.end(); ++it)
      if (texts[*it] == text) {
        s.attrs[*it] = attr;
        eog.erase(it);
        return;
      }
  };
  if (has({"<|end|>"}) && ((has({"<|return|>"}) && has({"<|call|>", "<|calls|>"})) ||
                           (has({"<|call|>", "<|calls|>"}) && has({"<|flush|>"}))))
    drop("<|end|>", kAttrUserDefined);
  if (has({"</s>"}) && has({"<|tool_response>", "<|plamo:eos|>"})) drop("</s>", kAttrNormal);
  s.eog.assign(eog.begin(), eog.end());

  for (int32_t i = 0; i < n; ++i)
    if (s.attrs[i] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) s.partition.push_back(i);
  std::stable_sort(s.partition.begin(), s.partition.end(),
                   [&](int32_t a, int32_t b) { return texts[a].size() > texts[b].size(); });
  return s;
}

}  // namespace turbine
