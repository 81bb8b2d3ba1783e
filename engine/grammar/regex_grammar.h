// A regular expression (JSON Schema's `pattern`, ECMA-262 syntax) as grammar text for the
// inside of a JSON string: literals, `.`, classes with ranges and \d \w \s (and negations),
// groups (capturing or `(?:`), alternation, and the quantifiers * + ? {m} {m,} {m,n}
// (lazy forms match the same strings). Characters are written as a JSON string holds them
// (`"` and `\` escaped); classes never produce raw quotes, backslashes or control
// characters. A pattern not anchored with ^ / $ may have any text before / after it, as
// JSON Schema defines. Backreferences, lookaround and other constructs fail with a
// message naming them.
#pragma once
#include <string>
#include <string_view>

#include "base/result.h"

namespace turbine::grammar {

// `any_char`: the grammar expression for one JSON string character (used for `.` and
// unanchored ends).
Result<std::string> regex_to_grammar(std::string_view pattern, const std::string& any_char);

}  // namespace turbine::grammar
