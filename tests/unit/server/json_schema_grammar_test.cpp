// JSON Schema -> grammar: tables of schemas with documents each must and must not accept
// (run byte by byte through the automaton), integer ranges checked exhaustively, and
// errors that name the unsupported construct and where it is.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/grammar/grammar_parser.h"
#include "engine/grammar/token_automaton.h"
#include "engine/server/json_schema_grammar.h"
#include "tests/unit/grammar/byte_vocab.h"

namespace turbine {
namespace {

using ojson = nlohmann::ordered_json;
using grammar::TokenAutomaton;

using grammar::testing::byte_vocab;

std::unique_ptr<TokenAutomaton> automaton_for(const std::string& grammar_text) {
  auto g = grammar::parse_grammar(grammar_text);
  EXPECT_TRUE(g.ok()) << g.error() << "\n" << grammar_text;
  if (!g.ok()) return nullptr;
  return std::make_unique<TokenAutomaton>(std::move(*g), byte_vocab());
}

bool accepts(TokenAutomaton& a, const std::string& doc) { return grammar::testing::accepts_bytes(a, doc); }

struct Case {
  const char* schema;
  std::vector<std::string> yes, no;
};

TEST(JsonSchemaGrammar, AcceptsExactlyTheDocumentsOfTheSchema) {
  const std::vector<Case> cases = {
      {R"({"type": "string"})",
       {R"("")", R"("a b")", R"("q\"\\\/\b\f\n\r\t")", R"("\u00e9\uD83D")", "\"\xc3\xa9\xe2\x82\xac\""},
       {R"(")", R"("a)", "\"\n\"", R"("\x")", R"("\u12")", "'a'"}},
      {R"({"type": "integer"})", {"0", "-7", "123456"}, {"01", "-", "1.5", "+1", "1e3"}},
      {R"({"type": "number"})", {"0", "-0.5", "3.25e-7", "1E+2", "42"}, {".5", "1.", "01", "1e", "--1"}},
      {R"({"type": "number", "minimum": 0})", {"0", "0.5", "12e3"}, {"-1", "-0.5"}},
      {R"({"type": "boolean"})", {"true", "false"}, {"True", "1"}},
      {R"({"type": ["string", "null"]})", {"null", R"("x")"}, {"1"}},
      {R"({"enum": ["a", 1, null, {"k": [true]}]})", {R"("a")", "1", "null", R"({"k":[true]})"}, {R"("b")", "2"}},
      {R"({"const": "fixed"})", {R"("fixed")"}, {R"("other")"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}},
          "required": ["b"]})",
       {R"({"a": 1, "b": "x"})", R"({"b":"x"})", "{\n  \"a\": 1,\n  \"b\": \"x\"\n}"},
       {R"({"a": 1})", R"({"b": "x", "a": 1})", R"({"b": "x", "c": 1})", R"({"a": 1,, "b": "x"})", R"({})"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}}})", {R"({})", R"({"a": 2})"}, {R"({"b": 2})"}},
      {R"({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": {"type": "boolean"}})",
       {R"({})", R"({"a": 2, "x": true})", R"({"y": false, "z": true})"}, {R"({"x": 1})"}},
      {R"({"type": "array", "items": {"type": "integer"}, "minItems": 1, "maxItems": 3})",
       {"[1]", "[1, 2, 3]", "[ 1 ,2 ]"}, {"[]", "[1,2,3,4]", "[1,]", "[\"a\"]"}},
      {R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})",
       {R"(["a", 1])"}, {R"(["a"])", R"([1, "a"])", R"(["a", 1, 2])"}},
      {R"({"anyOf": [{"type": "integer"}, {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "null"}]}}]})",
       {"5", R"(["a", null])", "[]"}, {"[5]", R"("a")"}},
      {R"({"type": "string", "minLength": 2, "maxLength": 3})", {R"("ab")", R"("a\nc")", "\"\xc3\xa9\xc3\xa9\""}, {R"("a")", R"("abcd")"}},
      {R"({"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"})", {R"("AB-123")"}, {R"("AB-12")", R"("ab-123")", R"(" AB-123")"}},
      {R"({"type": "string", "pattern": "ab"})", {R"("ab")", R"("xxabyy")"}, {R"("a b")"}},
      {R"({"type": "string", "pattern": "^(cat|dog)s?$"})", {R"("cat")", R"("dogs")"}, {R"("cow")", R"("cats!")"}},
      {R"({"type": "string", "pattern": "^a\"b$"})", {R"("a\"b")"}, {R"("ab")"}},
      {R"({"type": "string", "format": "date"})", {R"("2024-02-29")"}, {R"("2024-13-01")", R"("2024-1-01")"}},
      {R"({"type": "string", "format": "date-time"})", {R"("2024-02-29T23:59:60Z")", R"("2024-02-29T01:02:03.5+01:00")"}, {R"("2024-02-29 01:02:03Z")"}},
      {R"({"type": "string", "format": "uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"}, {R"("123e4567")"}},
      {R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}, "required": ["v", "next"]}},
          "$ref": "#/$defs/node"})",
       {R"({"v": 1, "next": null})", R"({"v": 1, "next": {"v": 2, "next": {"v": 3, "next": null}}})"},
       {R"({"v": 1})", R"({"v": 1, "next": {"v": 2}})"}},
      {R"({"title": "T", "description": "anything", "default": 1})", {"1", R"({"a": [1, "x", null]})", "\"s\""}, {"{"}},
  };
  for (const Case& c : cases) {
    auto g = json_schema_to_grammar(ojson::parse(c.schema));
    ASSERT_TRUE(g.ok()) << c.schema << ": " << g.error();
    auto a = automaton_for(*g);
    ASSERT_TRUE(a);
    for (const auto& d : c.yes) EXPECT_TRUE(accepts(*a, d)) << c.schema << " should accept " << d;
    for (const auto& d : c.no) EXPECT_FALSE(accepts(*a, d)) << c.schema << " should reject " << d;
  }
}

TEST(JsonSchemaGrammar, IntegerRangesAreExact) {
  const std::vector<std::pair<const char*, std::pair<int, int>>> cases = {
      {R"({"type": "integer", "minimum": 0, "maximum": 100})", {0, 100}},
      {R"({"type": "integer", "minimum": -37, "maximum": 415})", {-37, 415}},
      {R"({"type": "integer", "minimum": 7, "maximum": 7})", {7, 7}},
      {R"({"type": "integer", "exclusiveMinimum": -200, "exclusiveMaximum": -9})", {-199, -10}},
      {R"({"type": "integer", "minimum": 1.5, "maximum": 99.9})", {2, 99}},
      {R"({"type": "integer", "minimum": 980})", {980, 1000000}},
      {R"({"type": "integer", "maximum": -3})", {-1000000, -3}},
  };
  for (auto [schema, range] : cases) {
    auto g = json_schema_to_grammar(ojson::parse(schema));
    ASSERT_TRUE(g.ok()) << g.error();
    auto a = automaton_for(*g);
    for (int v = -1200; v <= 1200; ++v) {
      const bool want = v >= range.first && v <= range.second;
      ASSERT_EQ(accepts(*a, std::to_string(v)), want) << schema << " on " << v;
    }
    EXPECT_FALSE(accepts(*a, "-0")) << schema;
    EXPECT_FALSE(accepts(*a, "007")) << schema;
  }
}

TEST(JsonSchemaGrammar, UnsupportedConstructsAreNamedWithTheirPath) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {R"({"type": "object", "properties": {"age": {"type": "integer", "multipleOf": 2}}})",
       "keyword 'multipleOf' is not supported here at 'properties.age.multipleOf'"},
      {R"({"not": {"type": "string"}})", "keyword 'not'"},
      {R"({"type": "string", "format": "uri"})", "format 'uri' is not supported"},
      {R"({"type": "string", "pattern": "^(?=a)b$"})", "lookaround"},
      {R"({"type": "string", "pattern": "(a)\\1"})", "'\\1' is not supported"},
      {R"({"$ref": "https://example.com/s.json"})", "only #/$defs/NAME"},
      {R"({"$ref": "#/$defs/missing", "$defs": {}})", "is not defined"},
      {R"({"allOf": [{"type": "string"}, {"maxLength": 3}]})", "'allOf' with more than one"},
      {R"({"type": "object", "properties": {}, "required": ["x"]})", "required property \"x\" is not in 'properties'"},
      {R"({"type": "array", "uniqueItems": true})", "'uniqueItems'"},
      {R"({"type": "number", "maximum": 3})", "keyword 'maximum'"},
      {R"({"type": "integer", "minimum": 5, "maximum": 2})", "admit no value"},
      {R"({"type": "tuple"})", "unknown type 'tuple'"},
      {R"(false)", "matches nothing"},
      {R"({"type": "array", "items": {"type": "string", "patternProperties": {}}})", "at 'items.patternProperties'"},
      {R"({"type": "string", "pattern": "(((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((a"})", "nested deeper than 256"},
  };
  std::string deep = "{}";
  for (int i = 0; i < 5000; ++i) deep = R"({"type": "array", "items": )" + deep + "}";
  auto d = json_schema_to_grammar(ojson::parse(deep));
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.error().find("nesting deeper than 64"), std::string::npos) << d.error();
  for (auto [schema, want] : cases) {
    auto g = json_schema_to_grammar(ojson::parse(schema));
    ASSERT_FALSE(g.ok()) << schema;
    EXPECT_NE(g.error().find(want), std::string::npos) << schema << " -> " << g.error();
  }
}

TEST(JsonSchemaGrammar, PropertiesComeInSchemaOrder) {
  auto g = json_schema_to_grammar(ojson::parse(
      R"({"type": "object", "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}}, "required": ["zeta", "alpha"]})"));
  ASSERT_TRUE(g.ok());
  auto a = automaton_for(*g);
  EXPECT_TRUE(accepts(*a, R"({"zeta": 1, "alpha": 2})"));
  EXPECT_FALSE(accepts(*a, R"({"alpha": 2, "zeta": 1})"));
}

TEST(JsonSchemaGrammar, JsonObjectIsAnyObject) {
  auto a = automaton_for(json_object_grammar());
  for (const char* d : {"{}", R"({"a": {"b": [1, 2.5, "x", null, true, {}]}})", "{\n\t\"k\": []\n}"})
    EXPECT_TRUE(accepts(*a, d)) << d;
  for (const char* d : {"[]", "1", R"({"a" 1})", R"({"a": 1,})", R"({a: 1})", " {}"})
    EXPECT_FALSE(accepts(*a, d)) << d;
}

}  // namespace
}  // namespace turbine
