#include "engine/grammar/regex_grammar.h"

#include <cstdio>
#include <optional>
#include <vector>

#include "engine/grammar/grammar_parser.h"
#include "engine/grammar/utf8_ranges.h"

namespace turbine::grammar {
namespace {

using Ranges = std::vector<CodepointRange>;

// What a JSON string may hold raw: no quote, backslash or control character.
Ranges json_raw(Ranges r) {
  Ranges out;
  for (auto [lo, hi] : normalize_ranges(std::move(r), false)) {
    auto keep = [&](uint32_t a, uint32_t b) {
      if (a <= b) out.push_back({a, b});
    };
    // Remove 0x00-0x1F, '"' (0x22) and '\' (0x5C).
    lo = std::max<uint32_t>(lo, 0x20);
    if (lo > hi) continue;
    uint32_t a = lo;
    for (uint32_t cut : {0x22u, 0x5Cu}) {
      if (cut >= a && cut <= hi) {
        keep(a, cut - 1);
        a = cut + 1;
      }
    }
    keep(a, hi);
  }
  return out;
}

std::string class_text(const Ranges& r) {
  std::string s = "[";
  char b[32];
  for (auto [lo, hi] : r) {
    std::snprintf(b, sizeof b, "\\U%08X", lo);
    s += b;
    if (hi != lo) {
      std::snprintf(b, sizeof b, "-\\U%08X", hi);
      s += b;
    }
  }
  return s + "]";
}

Ranges shorthand(char c, bool& ok) {
  ok = true;
  switch (c) {
    case 'd': return {{'0', '9'}};
    case 'w': return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
    case 's': return {{' ', ' '}, {'\t', '\r'}};
    case 'D': return normalize_ranges({{'0', '9'}}, true);
    case 'W': return normalize_ranges({{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}, true);
    case 'S': return normalize_ranges({{' ', ' '}, {'\t', '\r'}}, true);
    default: ok = false; return {};
  }
}

class RegexParser {
 public:
  RegexParser(std::string_view p, const std::string& any) : p_(p), any_(any) {}

  Result<std::string> run() {
    bool start = false, end = false;
    if (!p_.empty() && p_[0] == '^') start = true, ++i_;
    auto body = alternation();
    if (!body.ok()) return body;
    if (i_ < p_.size() && p_[i_] == '$') end = true, ++i_;
    if (i_ < p_.size()) return fail(std::string("unexpected '") + p_[i_] + "'");
    std::string out = *body;
    if (!start) out = any_ + "* " + out;
    if (!end) out += " " + any_ + "*";
    return out;
  }

 private:
  Error fail(const std::string& what) const {
    return Error{"pattern: " + what + " at offset " + std::to_string(i_)};
  }
  bool more() const { return i_ < p_.size(); }

  Result<std::string> alternation() {
    std::vector<std::string> alts;
    for (;;) {
      auto s = sequence();
      if (!s.ok()) return s;
      alts.push_back(*s);
      if (!more() || p_[i_] != '|') break;
      ++i_;
    }
    if (alts.size() == 1) return "(" + alts[0] + ")";
    std::string out = "(";
    for (size_t k = 0; k < alts.size(); ++k) out += (k ? " | " : "") + alts[k];
    return out + ")";
  }

  Result<std::string> sequence() {
    std::string out;
    while (more() && p_[i_] != '|' && p_[i_] != ')') {
      if (p_[i_] == '$' && i_ + 1 == p_.size()) break;
      auto a = atom();
      if (!a.ok()) return a;
      auto q = quantifier();
      if (!q.ok()) return q;
      out += (out.empty() ? "" : " ") + *a + *q;
    }
    return out.empty() ? std::string("\"\"") : out;
  }

  Result<std::string> quantifier() {
    if (!more()) return std::string();
    std::string q;
    const char c = p_[i_];
    if (c == '*' || c == '+' || c == '?') {
      q = std::string(1, c);
      ++i_;
    } else if (c == '{') {
      const size_t close = p_.find('}', i_);
      if (close == std::string_view::npos) return fail("unterminated {");
      q = std::string(p_.substr(i_, close - i_ + 1));
      for (char d : q.substr(1, q.size() - 2))
        if (!(d >= '0' && d <= '9') && d != ',') return fail("bad repetition " + q);
      i_ = close + 1;
    } else {
      return std::string();
    }
    if (more() && p_[i_] == '?') ++i_;  // lazy: the same strings
    if (more() && (p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '?' || p_[i_] == '{'))
      return fail("a quantifier after a quantifier");
    return q;
  }

  // One code point of the pattern (UTF-8), or an escape; nullopt with `err` set on error.
  std::optional<Ranges> escape_or_char(bool in_class, std::string& err) {
    unsigned char c = static_cast<unsigned char>(p_[i_]);
    if (c == '\\') {
      if (++i_ >= p_.size()) return err = "a trailing backslash", std::nullopt;
      const char e = p_[i_++];
      bool ok = false;
      Ranges sh = shorthand(e, ok);
      if (ok) return sh;
      switch (e) {
        case 'n': return Ranges{{'\n', '\n'}};
        case 't': return Ranges{{'\t', '\t'}};
        case 'r': return Ranges{{'\r', '\r'}};
        case 'f': return Ranges{{'\f', '\f'}};
        case 'v': return Ranges{{'\v', '\v'}};
        case 'u': {
          if (i_ + 4 > p_.size()) return err = "\\u needs 4 hex digits", std::nullopt;
          uint32_t v = 0;
          for (int k = 0; k < 4; ++k) {
            const char h = p_[i_++];
            const int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
            if (d < 0) return err = "\\u needs 4 hex digits", std::nullopt;
            v = v * 16 + static_cast<uint32_t>(d);
          }
          return Ranges{{v, v}};
        }
        default:
          if ((e >= '1' && e <= '9') || e == 'b' || e == 'B' || e == 'k' || e == 'p' || e == 'P')
            return err = std::string("'\\") + e + "' is not supported", std::nullopt;
          if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
            return err = std::string("unknown escape '\\") + e + "'", std::nullopt;
          return Ranges{{static_cast<uint32_t>(e), static_cast<uint32_t>(e)}};
      }
    }
    (void)in_class;
    int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i_ + n > p_.size()) return err = "invalid UTF-8", std::nullopt;
    uint32_t cp = n == 1 ? c : c & (0x7F >> n);
    for (int k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(p_[i_ + k]) & 0x3F);
    i_ += n;
    return Ranges{{cp, cp}};
  }

  Result<std::string> char_class() {
    ++i_;  // [
    bool negate = false;
    if (more() && p_[i_] == '^') negate = true, ++i_;
    Ranges r;
    bool first = true;
    while (more() && (p_[i_] != ']' || first)) {
      first = false;
      std::string err;
      auto lo = escape_or_char(true, err);
      if (!lo) return fail(err);
      if (lo->size() == 1 && (*lo)[0].first == (*lo)[0].second && i_ + 1 < p_.size() &&
          p_[i_] == '-' && p_[i_ + 1] != ']') {
        ++i_;
        auto hi = escape_or_char(true, err);
        if (!hi) return fail(err);
        if (hi->size() != 1 || (*hi)[0].first < (*lo)[0].first) return fail("bad class range");
        r.push_back({(*lo)[0].first, (*hi)[0].second});
      } else {
        r.insert(r.end(), lo->begin(), lo->end());
      }
    }
    if (!more()) return fail("unterminated [");
    ++i_;
    Ranges allowed = json_raw(normalize_ranges(std::move(r), negate));
    if (allowed.empty()) return fail("a class with no character a JSON string can hold raw");
    return class_text(allowed);
  }

  Result<std::string> atom() {
    const char c = p_[i_];
    if (c == '(') {
      if (++depth_ > 256) return fail("groups nested deeper than 256");
      ++i_;
      if (more() && p_[i_] == '?') {
        if (i_ + 1 < p_.size() && p_[i_ + 1] == ':') {
          i_ += 2;
        } else {
          return fail("lookaround and named groups are not supported");
        }
      }
      auto inner = alternation();
      if (!inner.ok()) return inner;
      if (!more() || p_[i_] != ')') return fail("missing )");
      ++i_;
      --depth_;
      return inner;
    }
    if (c == '[') return char_class();
    if (c == '.') {
      ++i_;
      return any_;
    }
    if (c == '^' || c == '$') return fail("an anchor inside the pattern is not supported");
    if (c == '*' || c == '+' || c == '?' || c == '{') return fail("nothing to repeat");
    std::string err;
    auto r = escape_or_char(false, err);
    if (!r) return fail(err);
    if (r->size() == 1 && (*r)[0].first == (*r)[0].second) {
      // One character: as the JSON string writes it.
      const uint32_t cp = (*r)[0].first;
      if (cp == '"') return std::string(R"("\\\"")");
      if (cp == '\\') return std::string(R"("\\\\")");
      if (cp < 0x20) {
        char b[16];
        std::snprintf(b, sizeof b, "\"\\\\u%04x\"", cp);
        return std::string(b);
      }
      return class_text(*r);
    }
    Ranges allowed = json_raw(*r);
    if (allowed.empty()) return fail("an escape with no character a JSON string can hold raw");
    return class_text(allowed);
  }

  std::string_view p_;
  const std::string& any_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<std::string> regex_to_grammar(std::string_view pattern, const std::string& any_char) {
  return RegexParser(pattern, any_char).run();
}

}  // namespace turbine::grammar
