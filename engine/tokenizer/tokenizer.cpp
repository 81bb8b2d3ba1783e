#include "engine/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "engine/tokenizer/bpe_merge.h"
#include "engine/tokenizer/pre_tokenizer.h"
#include "engine/tokenizer/token_attrs.h"
#include "engine/tokenizer/unicode.h"

namespace turbine {

namespace {

constexpr std::string_view kSpmSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's space
constexpr size_t kWordCacheLimit = 1 << 16;

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size())
    out.append(s, pos, hit - pos).append(to);
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

// A fragment of the input after special-token partition: raw text or a token id.
struct Fragment {
  int32_t token = -1;         // >= 0: a special token
  size_t begin = 0, len = 0;  // raw text otherwise
};

}  // namespace

struct Tokenizer::Impl {
  VocabData v;
  bool spm = false;
  std::vector<std::string> texts;  // token texts as llama.cpp keys them (empty ones renamed)
  TokenIndex index;
  SpecialTokens special;
  std::vector<bool> eog;
  std::vector<std::string> pieces;  // token_to_piece, precomputed
  std::optional<PreTokenizer> pre;
  MergeRanks ranks;
  bool clean_spaces = false;

  // Byte-level BPE results per pre-token word: prompts repeat words a lot.
  mutable std::mutex cache_mu;
  mutable std::unordered_map<std::string, std::vector<int32_t>> word_cache;

  int32_t lookup(std::string_view text) const {
    auto it = index.find(text);
    return it == index.end() ? -1 : it->second;
  }
  std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
  void encode_bpe_fragment(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe_word(const std::string& word, std::vector<int32_t>& out) const;
  void encode_spm_fragment(std::string text, std::vector<int32_t>& out) const;
  std::string make_piece(int32_t id) const;
};

// llama.cpp's tokenizer_st_partition: each special token, longest first, cuts every raw
// fragment at each of its occurrences (left to right, no overlap).
std::vector<Fragment> Tokenizer::Impl::partition(std::string_view text, bool parse_special) const {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});
  std::vector<Fragment> next;
  for (int32_t id : special.partition) {
    if (!parse_special && (special.attrs[id] & (kAttrControl | kAttrUnknown))) continue;
    const std::string& t = texts[id];
    next.clear();
    bool changed = false;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      std::string_view raw = text.substr(f.begin, f.len);
      size_t pos = 0;
      for (size_t hit; (hit = raw.find(t, pos)) != std::string_view::npos; pos = hit + t.size()) {
        if (hit > pos) next.push_back({-1, f.begin + pos, hit - pos});
        next.push_back({id, 0, 0});
        changed = true;
      }
      if (pos < raw.size()) next.push_back({-1, f.begin + pos, raw.size() - pos});
    }
    if (changed) frags.swap(next);
  }
  return frags;
}

void Tokenizer::Impl::encode_bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_mu);
    auto it = word_cache.find(word);
    if (it != word_cache.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids;
  int32_t whole = pre->ignore_merges() ? lookup(word) : -1;
  if (whole >= 0) {
    ids.push_back(whole);
  } else {
    for (std::string_view sym : bpe_merge(word, ranks)) {
      int32_t id = lookup(sym);
      if (id >= 0) {
        ids.push_back(id);
        continue;
      }
      // No token for the symbol: llama.cpp tries each byte of it as a token and silently
      // drops the bytes that are not (a vocabulary without the full byte alphabet).
      for (char c : sym)
        if (int32_t b = lookup(std::string_view(&c, 1)); b >= 0) ids.push_back(b);
    }
  }
  out.insert(out.end(), ids.begin(), ids.end());
  std::lock_guard<std::mutex> lock(cache_mu);
  if (word_cache.size() >= kWordCacheLimit) word_cache.clear();
  word_cache.emplace(word, std::move(ids));
}

void Tokenizer::Impl::encode_bpe_fragment(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<uint32_t> cpts = utf8_to_cpts(text);
  size_t begin = 0;
  std::string utf8, word;
  for (size_t len : pre->split(cpts)) {
    // Back to UTF-8 (invalid input is U+FFFD by now), then each byte to its GPT-2 character.
    utf8.clear();
    for (size_t i = begin; i < begin + len; ++i) append_utf8(utf8, cpts[i]);
    begin += len;
    word.clear();
    for (char c : utf8) word += byte_to_unicode_utf8(static_cast<uint8_t>(c));
    encode_bpe_word(word, out);
  }
}

void Tokenizer::Impl::encode_spm_fragment(std::string text, std::vector<int32_t>& out) const {
  replace_all(text, " ", kSpmSpace);
  auto score_of = [this](std::string_view s, float* score) {
    int32_t id = lookup(s);
    if (id < 0) return false;
    *score = v.scores.empty() ? 0.0f : v.scores[id];
    return true;
  };
  for (std::string_view sym : spm_merge(text, score_of)) {
    int32_t id = lookup(sym);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Byte fallback: <0xXX>, else the byte itself as a token, else UNK.
    for (char c : sym) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "<0x%02X>", static_cast<uint8_t>(c));
      int32_t b = lookup(hex);
      if (b < 0) b = lookup(std::string_view(&c, 1));
      if (b < 0) b = v.unk_id;
      if (b >= 0) out.push_back(b);
    }
  }
}

std::string Tokenizer::Impl::make_piece(int32_t id) const {
  const uint32_t attr = special.attrs[id];
  const std::string& text = texts[id];
  if (attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return text;
  if (attr & kAttrNormal) {
    if (spm) {
      std::string s = text;
      replace_all(s, kSpmSpace, " ");
      return s;
    }
    // Byte-level: each character of the token stands for one byte.
    std::string out;
    for (size_t pos = 0; pos < text.size();) {
      size_t start = pos;
      int b = unicode_to_byte(utf8_next(text, pos));
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
        continue;
      }
      // Not in the byte alphabet: llama.cpp writes a marker rather than failing.
      out += "[UNK_BYTE_0x";
      for (size_t i = start; i < pos; ++i) {
        char hex[4];
        std::snprintf(hex, sizeof hex, "%02x", static_cast<uint8_t>(text[i]));
        out += hex;
      }
      out += text + "]";
    }
    return out;
  }
  if ((attr & kAttrByte) && text.size() >= 5) {
    return std::string(1, static_cast<char>(std::strtol(text.substr(3, 2).c_str(), nullptr, 16)));
  }
  return "";  // undefined/unused tokens render as nothing, as in llama.cpp
}

Result<Tokenizer> Tokenizer::create(VocabData v) {
  auto impl = std::make_shared<Impl>();
  const size_t n = v.tokens.size();
  if (n == 0) return Error{"the vocabulary is empty (tokenizer.ggml.tokens)"};
  if (n > static_cast<size_t>(INT32_MAX)) return Error{"the vocabulary is too large"};
  if (!v.scores.empty() && v.scores.size() != n)
    return Error{"tokenizer.ggml.scores has " + std::to_string(v.scores.size()) + " entries for " +
                 std::to_string(n) + " tokens"};
  if (!v.token_types.empty() && v.token_types.size() != n)
    return Error{"tokenizer.ggml.token_type has " + std::to_string(v.token_types.size()) +
                 " entries for " + std::to_string(n) + " tokens"};
  auto in_range = [&](int32_t id) { return id >= 0 && static_cast<size_t>(id) < n; };
  if (v.model == "llama") {
    impl->spm = true;
    // llama.cpp's defaults for SentencePiece vocabularies without the ids in metadata.
    if (v.bos_id < 0 && in_range(1)) v.bos_id = 1;
    if (v.eos_id < 0 && in_range(2)) v.eos_id = 2;
    if (v.unk_id < 0 && in_range(0)) v.unk_id = 0;
  } else if (v.model == "gpt2") {
    auto pre = PreTokenizer::create(v.pre);
    if (!pre) return Error{pre.error()};
    impl->pre = std::move(*pre);
    impl->clean_spaces = impl->pre->clean_spaces();
    if (v.merges.empty())
      return Error{"byte-level BPE vocabulary without merges (tokenizer.ggml.merges)"};
    impl->ranks = MergeRanks(v.merges);
  } else {
    return Error{
        "unsupported tokenizer model '" + v.model +
        "' (tokenizer.ggml.model); supported: gpt2 (byte-level BPE), llama (SentencePiece BPE)"};
  }
  for (int32_t* id : {&v.bos_id, &v.eos_id, &v.unk_id, &v.pad_id, &v.eot_id})
    if (!in_range(*id)) *id = -1;

  impl->texts = v.tokens;
  impl->index.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (impl->texts[i].empty()) impl->texts[i] = "[EMPTY_" + std::to_string(i) + "]";
    impl->index.insert_or_assign(impl->texts[i], static_cast<int32_t>(i));  // last one wins
  }
  impl->special = derive_special_tokens(v, impl->texts);
  impl->eog.assign(n, false);
  for (int32_t id : impl->special.eog) impl->eog[id] = true;
  if (v.eot_id < 0) v.eot_id = impl->special.eot_id;
  impl->v = std::move(v);
  impl->pieces.resize(n);
  for (size_t i = 0; i < n; ++i) impl->pieces[i] = impl->make_piece(static_cast<int32_t>(i));
  return Tokenizer(std::move(impl));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Impl& m = *impl_;
  std::vector<int32_t> out;
  std::vector<Fragment> frags = m.partition(text, parse_special);
  const bool add_bos = add_special && m.v.add_bos && m.v.bos_id >= 0;
  const bool add_eos = add_special && m.v.add_eos && m.v.eos_id >= 0;
  if (add_bos) out.push_back(m.v.bos_id);
  bool prev_special = true;  // SentencePiece: a space before the first text and after specials
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
      continue;
    }
    std::string_view raw = text.substr(f.begin, f.len);
    if (m.spm) {
      std::string s = m.v.add_space_prefix && prev_special ? " " : "";
      s.append(raw);
      m.encode_spm_fragment(std::move(s), out);
    } else {
      m.encode_bpe_fragment(raw, out);
    }
    prev_special = false;
  }
  if (add_eos) out.push_back(m.v.eos_id);
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= n_vocab()) return "";
  return impl_->pieces[id];
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  const Impl& m = *impl_;
  std::string text;
  bool strip_space = m.v.add_space_prefix;  // the space encode() put before the first word
  for (int32_t id : ids) {
    if (id < 0 || id >= n_vocab()) continue;
    std::string_view p = m.pieces[id];
    if (strip_space && !p.empty() && p.front() == ' ') p.remove_prefix(1);
    strip_space = false;
    text.append(p);
  }
  if (!m.clean_spaces || text.empty()) return text;
  // llama.cpp's clean_up_tokenization_spaces: three in-place passes, kept literally (the
  // second one blanks the character it skips, which later comparisons see).
  std::string& t = text;
  size_t total = t.size();
  const size_t total1 = total;
  total = 1;
  for (size_t i = 1; i < total1; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;  // " ?" -> "?"
    t[total++] = x;
  }
  const size_t total2 = total;
  total = 1;
  for (size_t i = 1; i < total2; ++i) {
    const char x = t[i];
    if (x == '\'' && i + 1 < total2 && t[i - 1] == ' ' && t[i + 1] == ' ') {  // " ' " -> "'"
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }
  const size_t total3 = total;
  total = 1;
  for (size_t i = 1; i < total3; ++i) {
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < total3) {  // " 's", " 'm", " 're", " 've"
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < total3 &&
                 ((x1 == 'r' && t[i + 2] == 'e') || (x1 == 'v' && t[i + 2] == 'e'))) {
        --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
  return text;
}

bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && id < n_vocab() && impl_->eog[id];
}

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && id < n_vocab() && (impl_->special.attrs[id] & (kAttrControl | kAttrUnknown));
}

int32_t Tokenizer::bos() const {
  return impl_->v.bos_id;
}
int32_t Tokenizer::eos() const {
  return impl_->v.eos_id;
}
int32_t Tokenizer::n_vocab() const {
  return static_cast<int32_t>(impl_->texts.size());
}

std::optional<int32_t> Tokenizer::find_token(std::string_view text) const {
  int32_t id = impl_->lookup(text);
  if (id < 0) return std::nullopt;
  return id;
}

const VocabData& Tokenizer::vocab() const {
  return impl_->v;
}

}  // namespace turbine
