// A context-free grammar over bytes: what constrained decoding (response_format, `grammar`)
// holds a model's output to. Rules are alternatives of sequences; each element is a byte
// set or a reference to a rule. Text grammars (grammar_parser.h) and JSON Schemas
// (server/json_schema_grammar.h) both compile to this; token_automaton.h runs it over the
// vocabulary. Unicode classes are lowered to UTF-8 byte sequences (utf8_ranges.h), so
// tokens that end inside a character need no special case.
//
// The program is flat, as an interpreter wants it: `code` holds every alternative of every
// rule as its elements followed by kEndAlt, and a position is an index into it.
#pragma once
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"

namespace turbine::grammar {

struct ByteSet {
  std::array<uint64_t, 4> w{};
  bool test(uint8_t b) const { return (w[b >> 6] >> (b & 63)) & 1; }
  void set(uint8_t b) { w[b >> 6] |= uint64_t{1} << (b & 63); }
  void set_range(uint8_t lo, uint8_t hi) {
    for (int b = lo; b <= hi; ++b) set(static_cast<uint8_t>(b));
  }
  bool empty() const { return (w[0] | w[1] | w[2] | w[3]) == 0; }
  ByteSet& operator|=(const ByteSet& o) {
    for (int i = 0; i < 4; ++i) w[i] |= o.w[i];
    return *this;
  }
  bool operator==(const ByteSet&) const = default;
};

enum class Op : uint8_t { kBytes, kRule, kEndAlt };

struct Elem {
  Op op;
  uint32_t arg;  // kBytes: index into Grammar::sets; kRule: rule id; kEndAlt: the rule id
};

struct Grammar {
  std::vector<Elem> code;
  std::vector<ByteSet> sets;
  std::vector<std::vector<uint32_t>> alts;  // per rule: where each alternative starts in code
  std::vector<std::string> names;           // per rule
  uint32_t root = 0;
};

// Builds a Grammar rule by rule. Rules may be referenced before they are defined; build()
// checks that every referenced rule has a definition, that no rule is left-recursive (a
// rule that can reach itself without consuming a byte would never stop expanding), and
// that the program stays within `max_code` elements.
class GrammarBuilder {
 public:
  using Seq = std::vector<Elem>;

  // The id of rule `name`, declared (without alternatives yet) if new.
  uint32_t rule(const std::string& name);
  // A fresh rule named after `base` ("base~3", a name no grammar text can use): for groups and repetitions.
  uint32_t fresh(const std::string& base);
  bool defined(uint32_t id) const { return defined_[id]; }
  // Gives rule `id` its alternatives (an empty Seq is the empty match). Fails if the rule
  // already has them.
  Status define(uint32_t id, std::vector<Seq> alternatives);
  Elem bytes(const ByteSet& s);
  static Elem ref(uint32_t id) { return {Op::kRule, id}; }
  // A sequence matching exactly `text`.
  Seq literal(const std::string& text);

  Result<Grammar> build(const std::string& root_name, size_t max_code = 1u << 22) &&;

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<Seq>> rules_;
  std::vector<bool> defined_;
  std::vector<ByteSet> sets_;
  std::unordered_map<std::string, uint32_t> index_;
  std::map<std::array<uint64_t, 4>, uint32_t> set_index_;
  size_t elems_ = 0;
};

}  // namespace turbine::grammar
