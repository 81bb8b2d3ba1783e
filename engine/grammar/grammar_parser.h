// Text grammars, the `grammar` request field: GBNF-style EBNF as llama.cpp's server takes it.
//
//   root   ::= object                   # a rule; `#` starts a comment
//   object ::= "{" ws pair ("," ws pair)* "}"
//   digit  ::= [0-9]   hex ::= [0-9a-fA-F]   other ::= [^"\\\x00-\x1f]   any ::= .
//   x{2,5} x{3} x{2,} x* x+ x?           # repetition
//
// Literals and classes take \n \r \t \\ \" \' \[ \] \- \/ \^ \xHH \uHHHH \UHHHHHHHH; classes
// and `.` are over Unicode code points. A rule ends where the next `name ::=` begins.
// Errors name the line and what was expected there.
#pragma once
#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/grammar/grammar.h"

namespace turbine::grammar {

Result<Grammar> parse_grammar(std::string_view text, const std::string& root = "root");

// `s` as a grammar literal ("..." with the escapes above), for generators of grammar text.
std::string quote_literal(std::string_view s);

}  // namespace turbine::grammar
