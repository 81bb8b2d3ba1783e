#include "engine/tokenizer/pre_tokenizer.h"

#include "engine/tokenizer/unicode.h"

namespace turbine {
namespace {

constexpr uint32_t kOutside = 0xFFFFFFFF;

// One piece [begin, end) of the code points; positions outside it read as "no character",
// which is how lookaheads stop at piece boundaries.
struct Piece {
  std::span<const uint32_t> cpts;
  size_t begin, end;
  uint32_t cpt(size_t i) const { return i >= begin && i < end ? cpts[i] : kOutside; }
  uint16_t flags(size_t i) const { return i >= begin && i < end ? unicode_flags(cpts[i]) : 0; }
  bool letter(size_t i) const { return flags(i) & kUnicodeLetter; }
  bool number(size_t i) const { return flags(i) & kUnicodeNumber; }
  bool space(size_t i) const { return flags(i) & kUnicodeWhitespace; }
};

// Emits the pieces of one pass over one input piece into `out` as lengths.
class Emitter {
 public:
  Emitter(std::vector<size_t>& out, size_t begin) : out_(out), prev_(begin) {}
  // Ends a piece at `end` (nothing if empty); returns its length.
  size_t cut(size_t end) {
    size_t n = end - prev_;
    if (n > 0) out_.push_back(n);
    prev_ = end;
    return n;
  }

 private:
  std::vector<size_t>& out_;
  size_t prev_;
};

bool other(uint16_t f) {  // [^\s\p{L}\p{N}] for a character inside the piece
  return f != 0 && !(f & (kUnicodeWhitespace | kUnicodeLetter | kUnicodeNumber));
}

void split_gpt2(const Piece& p, std::vector<size_t>& out) {
  Emitter e(out, p.begin);
  for (size_t pos = p.begin; pos < p.end;) {
    const uint32_t c = p.cpt(pos);
    if (c == '\'' && pos + 1 < p.end) {
      const uint32_t n1 = p.cpt(pos + 1);
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += e.cut(pos + 2);
        continue;
      }
      if (pos + 2 < p.end) {
        const uint32_t n2 = p.cpt(pos + 2);
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += e.cut(pos + 3);
          continue;
        }
      }
    }
    // The optional leading space of " ?\p{L}+" etc. is decided by the character after it.
    const size_t head = pos + (c == ' ');
    const uint16_t f = p.flags(head);
    if (f & kUnicodeLetter) {
      pos = head;
      while (p.letter(pos)) ++pos;
      e.cut(pos);
      continue;
    }
    if (f & kUnicodeNumber) {
      pos = head;
      while (p.number(pos)) ++pos;
      e.cut(pos);
      continue;
    }
    if (other(f)) {
      pos = head;
      while (other(p.flags(pos))) ++pos;
      e.cut(pos);
      continue;
    }
    size_t n_space = 0;
    while (p.space(pos + n_space)) ++n_space;
    if (n_space > 1 && p.cpt(pos + n_space) != kOutside) {
      // \s+(?!\S): leave the last space to prefix the next word.
      pos += n_space - 1;
      e.cut(pos);
      continue;
    }
    if (n_space > 0) {
      pos += n_space;
      e.cut(pos);
      continue;
    }
    e.cut(++pos);
  }
}

uint32_t ascii_lower(uint32_t c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

// Llama-3's pattern; Qwen2's is the same with \p{N} for \p{N}{1,3} (max_digits 1).
void split_llama3(const Piece& p, std::vector<size_t>& out, size_t max_digits) {
  Emitter e(out, p.begin);
  for (size_t pos = p.begin; pos < p.end;) {
    const uint32_t c = p.cpt(pos);
    const uint16_t f = p.flags(pos);
    if (c == '\'' && pos + 1 < p.end) {
      const uint32_t n1 = ascii_lower(p.cpt(pos + 1));
      if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
        pos += e.cut(pos + 2);
        continue;
      }
      if (pos + 2 < p.end) {
        const uint32_t n2 = ascii_lower(p.cpt(pos + 2));
        if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
          pos += e.cut(pos + 3);
          continue;
        }
      }
    }
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if (!(c == '\r' || c == '\n' || (f & kUnicodeNumber)) &&
        ((f & kUnicodeLetter) || p.letter(pos + 1))) {
      ++pos;
      while (p.letter(pos)) ++pos;
      e.cut(pos);
      continue;
    }
    // \p{N}{1,3} (Qwen2: \p{N})
    if (f & kUnicodeNumber) {
      size_t start = pos;
      while (p.number(pos)) {
        if (++pos - start >= max_digits) {
          e.cut(pos);
          start = pos;
        }
      }
      e.cut(pos);
      continue;
    }
    // " ?[^\s\p{L}\p{N}]+[\r\n]*". As in llama.cpp, a lone space at the end of a piece also
    // lands here (its lookahead reads as "not \s, \p{L}, \p{N}").
    const uint16_t f2 = c == ' ' ? p.flags(pos + 1) : f;
    if (!(f2 & (kUnicodeWhitespace | kUnicodeLetter | kUnicodeNumber))) {
      pos += (c == ' ');
      while (other(p.flags(pos)) && f2 != 0) ++pos;
      while (p.cpt(pos) == '\r' || p.cpt(pos) == '\n') ++pos;
      e.cut(pos);
      continue;
    }
    size_t n_space = 0, last_newline_end = 0;
    while (p.space(pos + n_space)) {
      const uint32_t s = p.cpt(pos + n_space);
      if (s == '\r' || s == '\n') last_newline_end = pos + n_space + 1;
      ++n_space;
    }
    if (last_newline_end > 0) {  // \s*[\r\n]+
      pos = last_newline_end;
      e.cut(pos);
      continue;
    }
    if (n_space > 1 && p.cpt(pos + n_space) != kOutside) {  // \s+(?!\S)
      pos += n_space - 1;
      e.cut(pos);
      continue;
    }
    if (n_space > 0) {
      pos += n_space;
      e.cut(pos);
      continue;
    }
    e.cut(++pos);
  }
}

// Isolates maximal runs (or single characters) matching `in_class`; the gaps stay pieces.
template <typename Pred>
void split_isolating(const Piece& p, std::vector<size_t>& out, bool runs, Pred in_class) {
  Emitter e(out, p.begin);
  for (size_t pos = p.begin; pos < p.end;) {
    if (!in_class(p.cpts[pos])) {
      ++pos;
      continue;
    }
    e.cut(pos);
    ++pos;
    while (runs && pos < p.end && in_class(p.cpts[pos])) ++pos;
    e.cut(pos);
  }
  e.cut(p.end);
}

void split_digit_triples(const Piece& p, std::vector<size_t>& out) {
  auto digit = [&](size_t i) { return i < p.end && p.cpts[i] >= '0' && p.cpts[i] <= '9'; };
  Emitter e(out, p.begin);
  for (size_t pos = p.begin; pos < p.end;) {
    if (digit(pos) && digit(pos + 1) && digit(pos + 2)) {
      e.cut(pos);
      pos += 3;
      e.cut(pos);
    } else {
      ++pos;
    }
  }
  e.cut(p.end);
}

bool is_number(uint32_t c) {
  return unicode_flags(c) & kUnicodeNumber;
}

bool is_default_punct(uint32_t c) {
  switch (c) {
    case '$':
    case '+':
    case '<':
    case '=':
    case '>':
    case '^':
    case '~':
    case '|':
      return true;
    default:
      return unicode_flags(c) & kUnicodePunctuation;
  }
}

}  // namespace

Result<PreTokenizer> PreTokenizer::create(std::string_view name) {
  using P = PreTokenizerPass;
  PreTokenizer t;
  t.name_ = name.empty() ? "default" : std::string(name);
  if (t.name_ == "default") {
    t.passes_ = {P::kPunctuationRuns, P::kGpt2, P::kNumberRuns, P::kAsciiDigitTriples};
  } else if (t.name_ == "gpt-2") {
    t.passes_ = {P::kGpt2};
  } else if (t.name_ == "llama3" || t.name_ == "llama-v3" || t.name_ == "llama-bpe") {
    t.passes_ = {P::kLlama3};
    t.ignore_merges_ = true;
  } else if (t.name_ == "qwen2" || t.name_ == "deepseek-r1-qwen") {
    t.passes_ = {P::kQwen2};
    t.clean_spaces_ = false;
  } else if (t.name_ == "smollm") {
    t.passes_ = {P::kEachNumber, P::kGpt2};
    t.clean_spaces_ = false;
  } else {
    return Error{
        "unsupported pre-tokenizer '" + t.name_ +
        "' (tokenizer.ggml.pre); supported: default, gpt-2, llama3, llama-v3, llama-bpe, qwen2, "
        "deepseek-r1-qwen, smollm"};
  }
  return t;
}

std::vector<size_t> PreTokenizer::split(std::span<const uint32_t> cpts) const {
  std::vector<size_t> pieces;
  if (!cpts.empty()) pieces.push_back(cpts.size());
  std::vector<size_t> next;
  for (PreTokenizerPass pass : passes_) {
    next.clear();
    next.reserve(pieces.size() * 2);
    size_t begin = 0;
    for (size_t len : pieces) {
      Piece p{cpts, begin, begin + len};
      switch (pass) {
        case PreTokenizerPass::kGpt2:
          split_gpt2(p, next);
          break;
        case PreTokenizerPass::kLlama3:
          split_llama3(p, next, 3);
          break;
        case PreTokenizerPass::kQwen2:
          split_llama3(p, next, 1);
          break;
        case PreTokenizerPass::kEachNumber:
          split_isolating(p, next, false, is_number);
          break;
        case PreTokenizerPass::kNumberRuns:
          split_isolating(p, next, true, is_number);
          break;
        case PreTokenizerPass::kPunctuationRuns:
          split_isolating(p, next, true, is_default_punct);
          break;
        case PreTokenizerPass::kAsciiDigitTriples:
          split_digit_triples(p, next);
          break;
      }
      begin += len;
    }
    pieces.swap(next);
  }
  return pieces;
}

std::vector<std::string> PreTokenizer::split_utf8(std::string_view text) const {
  std::vector<uint32_t> cpts = utf8_to_cpts(text);
  std::vector<std::string> out;
  size_t begin = 0;
  for (size_t len : split(cpts)) {
    std::string s;
    for (size_t i = begin; i < begin + len; ++i) append_utf8(s, cpts[i]);
    out.push_back(std::move(s));
    begin += len;
  }
  return out;
}

}  // namespace turbine
