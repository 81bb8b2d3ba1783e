// JSON Schema -> grammar text (grammar_parser.h), for response_format json_schema.
//
// Supported: type (one or a list), enum, const, anyOf / oneOf, allOf of one schema, $ref to
// #/$defs/... or #/definitions/... (recursion included), object properties / required /
// additionalProperties, arrays with items / prefixItems / minItems / maxItems, strings with
// minLength / maxLength / pattern (regex_grammar.h) / format (date, time, date-time, uuid,
// email), integers with minimum / maximum / exclusive bounds, numbers with minimum 0.
// Annotations (title, description, default, examples, ...) are accepted and ignored. Any
// other keyword, or a value these rules cannot express, is an error naming it and where
// it is ("properties.age.multipleOf"), so a schema is never silently loosened.
//
// Properties come in the schema's order. As in strict mode (OpenAI, xgrammar), an object
// without `additionalProperties` allows no other keys. Whitespace between tokens is
// bounded (a newline and up to 20 spaces or tabs) so a model cannot pad forever.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "base/result.h"

namespace turbine {

// `schema` keeps its keys in document order (ordered_json): properties are generated in
// the order the schema lists them, as OpenAI's structured outputs do.
Result<std::string> json_schema_to_grammar(const nlohmann::ordered_json& schema);
// Any JSON object: response_format {"type": "json_object"}.
std::string json_object_grammar();

}  // namespace turbine
