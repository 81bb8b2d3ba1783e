#include "engine/grammar/grammar_parser.h"

#include <cstdio>
#include <optional>

#include "engine/grammar/utf8_ranges.h"

namespace turbine::grammar {
namespace {

using Seq = GrammarBuilder::Seq;
constexpr int kMaxRepeat = 100000;
constexpr int kMaxNesting = 256;  // parentheses; the parser recurses once per level

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

std::string utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xE0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    s += static_cast<char>(0xF0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Status rules() {
    skip();
    while (!eof()) {
      const size_t at = p_;
      std::string name = word();
      if (name.empty()) return fail("expected a rule name");
      skip();
      if (t_.substr(p_, 3) != "::=") return fail("expected '::=' after '" + name + "'");
      p_ += 3;
      std::vector<Seq> alts;
      if (Status s = alternatives(alts); !s.ok()) return s;
      if (Status s = b_.define(b_.rule(name), std::move(alts)); !s.ok()) return fail_at(at, s.error());
      skip();
    }
    return Status::Ok();
  }
  GrammarBuilder take() && { return std::move(b_); }

 private:
  bool eof() const { return p_ >= t_.size(); }
  char peek(size_t k = 0) const { return p_ + k < t_.size() ? t_[p_ + k] : '\0'; }
  int line_of(size_t at) const {
    int line = 1;
    for (size_t i = 0; i < at && i < t_.size(); ++i) line += t_[i] == '\n';
    return line;
  }
  Status fail_at(size_t at, const std::string& what) const {
    return Error{"grammar line " + std::to_string(line_of(at)) + ": " + what};
  }
  Status fail(const std::string& what) const { return fail_at(p_, what); }

  void skip() {
    while (!eof()) {
      const char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++p_;
      } else if (c == '#') {
        while (!eof() && peek() != '\n') ++p_;
      } else {
        break;
      }
    }
  }
  std::string word() {
    const size_t a = p_;
    while (!eof() && name_char(peek())) ++p_;
    return std::string(t_.substr(a, p_ - a));
  }
  // True when a rule definition (`name ::=`) starts here: the current rule has ended.
  bool at_definition() const {
    size_t q = p_;
    while (q < t_.size() && name_char(t_[q])) ++q;
    if (q == p_) return false;
    while (q < t_.size() && (t_[q] == ' ' || t_[q] == '\t' || t_[q] == '\n' || t_[q] == '\r')) ++q;
    return t_.substr(q, 3) == "::=";
  }

  Status alternatives(std::vector<Seq>& alts) {
    for (;;) {
      Seq seq;
      if (Status s = sequence(seq); !s.ok()) return s;
      alts.push_back(std::move(seq));
      skip();
      if (peek() != '|') return Status::Ok();
      ++p_;
    }
  }

  Status sequence(Seq& seq) {
    for (;;) {
      skip();
      if (eof() || peek() == '|' || peek() == ')' || at_definition()) return Status::Ok();
      Seq item;
      if (Status s = primary(item); !s.ok()) return s;
      if (Status s = quantifier(item); !s.ok()) return s;
      seq.insert(seq.end(), item.begin(), item.end());
    }
  }

  Status primary(Seq& out) {
    const char c = peek();
    if (c == '"') return literal(out);
    if (c == '[') return char_class(out);
    if (c == '.') {
      ++p_;
      return class_seq(normalize_ranges({}, true), out);
    }
    if (c == '(') {
      if (++depth_ > kMaxNesting) return fail("groups nested deeper than 256");
      ++p_;
      std::vector<Seq> alts;
      if (Status s = alternatives(alts); !s.ok()) return s;
      --depth_;
      skip();
      if (peek() != ')') return fail("expected ')'");
      ++p_;
      const uint32_t g = b_.fresh("group");
      (void)b_.define(g, std::move(alts));
      out = {GrammarBuilder::ref(g)};
      return Status::Ok();
    }
    if (name_char(c)) {
      out = {GrammarBuilder::ref(b_.rule(word()))};
      return Status::Ok();
    }
    return fail(std::string("unexpected '") + c + "'");
  }

  // One escaped or plain code point at p_ (after a backslash has been seen or not).
  std::optional<uint32_t> code_point(std::string& err) {
    const unsigned char c = static_cast<unsigned char>(peek());
    if (c == '\\') {
      ++p_;
      const char e = peek();
      ++p_;
      switch (e) {
        case 'n': return '\n';
        case 'r': return '\r';
        case 't': return '\t';
        case '\\': case '"': case '\'': case '[': case ']': case '-': case '/': case '^':
          return static_cast<uint32_t>(e);
        case 'x': return hex(2, err);
        case 'u': return hex(4, err);
        case 'U': return hex(8, err);
        default:
          err = std::string("unknown escape '\\") + e + "'";
          return std::nullopt;
      }
    }
    // A UTF-8 sequence in the grammar text itself.
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || p_ + n > t_.size()) {
      err = "invalid UTF-8 in the grammar";
      return std::nullopt;
    }
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int i = 1; i < n; ++i) cp = (cp << 6) | (static_cast<unsigned char>(t_[p_ + i]) & 0x3F);
    p_ += n;
    return cp;
  }
  std::optional<uint32_t> hex(int digits, std::string& err) {
    uint32_t v = 0;
    for (int i = 0; i < digits; ++i, ++p_) {
      const char h = peek();
      int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
      if (d < 0) {
        err = "expected " + std::to_string(digits) + " hex digits in an escape";
        return std::nullopt;
      }
      v = v * 16 + static_cast<uint32_t>(d);
    }
    if (v > 0x10FFFF) {
      err = "escape beyond U+10FFFF";
      return std::nullopt;
    }
    return v;
  }

  Status literal(Seq& out) {
    ++p_;  // "
    std::string bytes;
    while (peek() != '"') {
      if (eof() || peek() == '\n') return fail("unterminated string literal");
      std::string err;
      auto cp = code_point(err);
      if (!cp) return fail(err);
      bytes += utf8(*cp);
    }
    ++p_;
    out = b_.literal(bytes);
    return Status::Ok();
  }

  Status char_class(Seq& out) {
    const size_t at = p_;
    ++p_;  // [
    bool negate = false;
    if (peek() == '^') negate = true, ++p_;
    std::vector<CodepointRange> ranges;
    while (peek() != ']') {
      if (eof() || peek() == '\n') return fail_at(at, "unterminated character class");
      std::string err;
      auto lo = code_point(err);
      if (!lo) return fail(err);
      uint32_t hi = *lo;
      if (peek() == '-' && peek(1) != ']' && peek(1) != '\0') {
        ++p_;
        auto h = code_point(err);
        if (!h) return fail(err);
        hi = *h;
        if (hi < *lo) return fail("character range is backwards");
      }
      ranges.push_back({*lo, hi});
    }
    ++p_;
    auto norm = normalize_ranges(std::move(ranges), negate);
    if (norm.empty()) return fail_at(at, "the character class matches nothing");
    return class_seq(norm, out);
  }

  // A class as one byte set when it is ASCII-only, else a rule of UTF-8 sequences.
  Status class_seq(const std::vector<CodepointRange>& ranges, Seq& out) {
    auto seqs = utf8_sequences(ranges);
    ByteSet single;
    std::vector<Seq> alts;
    for (const auto& s : seqs) {
      if (s.size() == 1) {
        single.set_range(s[0].lo, s[0].hi);
        continue;
      }
      Seq alt;
      for (const ByteRange& r : s) {
        ByteSet b;
        b.set_range(r.lo, r.hi);
        alt.push_back(b_.bytes(b));
      }
      alts.push_back(std::move(alt));
    }
    if (alts.empty()) {
      out = {b_.bytes(single)};
      return Status::Ok();
    }
    if (!single.empty()) alts.push_back({b_.bytes(single)});
    const uint32_t r = b_.fresh("class");
    (void)b_.define(r, std::move(alts));
    out = {GrammarBuilder::ref(r)};
    return Status::Ok();
  }

  std::optional<int> number() {
    const size_t a = p_;
    long v = 0;
    while (peek() >= '0' && peek() <= '9' && v <= kMaxRepeat) v = v * 10 + (peek() - '0'), ++p_;
    if (p_ == a) return std::nullopt;
    return static_cast<int>(v);
  }

  Status quantifier(Seq& item) {
    const char q = peek();
    if (q != '*' && q != '+' && q != '?' && q != '{') return Status::Ok();
    ++p_;
    int lo = 0, hi = -1;  // hi -1: unbounded
    if (q == '+') lo = 1;
    if (q == '?') hi = 1;
    if (q == '{') {
      skip();
      auto m = number();
      if (!m) return fail("expected a number after '{'");
      lo = hi = *m;
      skip();
      if (peek() == ',') {
        ++p_;
        skip();
        auto n = number();
        hi = n ? *n : -1;
        skip();
      }
      if (peek() != '}') return fail("expected '}'");
      ++p_;
      if (lo > kMaxRepeat || hi > kMaxRepeat) return fail("repetition bound over 100000");
      if (hi >= 0 && hi < lo) return fail("repetition {m,n} with n < m");
    }
    item = repeat(std::move(item), lo, hi);
    return Status::Ok();
  }

  // item{lo,hi} as rules: lo copies, then `item*` or (hi - lo) nested optionals.
  Seq repeat(Seq item, int lo, int hi) {
    if (item.size() != 1) {
      const uint32_t g = b_.fresh("group");
      (void)b_.define(g, {item});
      item = {GrammarBuilder::ref(g)};
    }
    Seq out;
    for (int i = 0; i < lo; ++i) out.push_back(item[0]);
    if (hi < 0) {
      const uint32_t star = b_.fresh("star");
      (void)b_.define(star, {{item[0], GrammarBuilder::ref(star)}, {}});
      out.push_back(GrammarBuilder::ref(star));
    } else if (hi > lo) {
      uint32_t tail = b_.fresh("opt");
      (void)b_.define(tail, {{item[0]}, {}});
      for (int i = lo + 1; i < hi; ++i) {
        const uint32_t r = b_.fresh("opt");
        (void)b_.define(r, {{item[0], GrammarBuilder::ref(tail)}, {}});
        tail = r;
      }
      out.push_back(GrammarBuilder::ref(tail));
    }
    return out;
  }

  std::string_view t_;
  size_t p_ = 0;
  int depth_ = 0;
  GrammarBuilder b_;
};

}  // namespace

Result<Grammar> parse_grammar(std::string_view text, const std::string& root) {
  Parser p(text);
  if (Status s = p.rules(); !s.ok()) return Error{s.error()};
  return std::move(p).take().build(root);
}

std::string quote_literal(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7F) {
          char b[8];
          std::snprintf(b, sizeof b, "\\x%02X", c);
          out += b;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace turbine::grammar
