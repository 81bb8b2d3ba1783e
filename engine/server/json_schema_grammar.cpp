#include "engine/server/json_schema_grammar.h"

#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "engine/grammar/grammar_parser.h"
#include "engine/grammar/regex_grammar.h"

namespace turbine {
namespace {

using json = nlohmann::ordered_json;
using grammar::quote_literal;

constexpr const char* kPrimitives = R"(ws ::= ([ \n] [ \t]{0,20})?
json-char ::= [^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})
json-string ::= "\"" json-char* "\""
json-int ::= "-"? ("0" | [1-9] [0-9]{0,15})
json-number ::= json-int ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?
json-nonneg-number ::= ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,3})?
json-bool ::= "true" | "false"
json-null ::= "null"
json-value ::= json-object | json-array | json-string | json-number | json-bool | json-null
json-object ::= "{" ws (json-string ws ":" ws json-value ws ("," ws json-string ws ":" ws json-value ws)*)? "}"
json-array ::= "[" ws (json-value ws ("," ws json-value ws)*)? "]"
)";

const std::set<std::string> kAnnotations = {
    "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated",
    "readOnly", "writeOnly", "discriminator", "$defs", "definitions", "strict"};

std::string repeat_str(char c, size_t n) { return std::string(n, c); }

// Grammar for the digit strings a..b of equal length (a <= b).
std::string digits_range(const std::string& a, const std::string& b) {
  if (a.empty()) return "\"\"";
  if (a == b) return quote_literal(a);
  if (a[0] == b[0]) return quote_literal(a.substr(0, 1)) + " " + digits_range(a.substr(1), b.substr(1));
  const size_t rest = a.size() - 1;
  const auto cls = [](char lo, char hi) { return std::string("[") + lo + "-" + hi + "]"; };
  if (rest == 0) return cls(a[0], b[0]);
  const bool low0 = a.substr(1) == repeat_str('0', rest), high9 = b.substr(1) == repeat_str('9', rest);
  std::vector<std::string> alts;
  if (!low0) alts.push_back(quote_literal(a.substr(0, 1)) + " " + digits_range(a.substr(1), repeat_str('9', rest)));
  const char lo = low0 ? a[0] : static_cast<char>(a[0] + 1), hi = high9 ? b[0] : static_cast<char>(b[0] - 1);
  if (lo <= hi) alts.push_back(cls(lo, hi) + " [0-9]{" + std::to_string(rest) + "}");
  if (!high9) alts.push_back(quote_literal(b.substr(0, 1)) + " " + digits_range(repeat_str('0', rest), b.substr(1)));
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

// Non-negative integers in [lo, hi] (hi empty: no bound), without leading zeros.
std::string nonneg_range(int64_t lo, std::optional<int64_t> hi) {
  const std::string slo = std::to_string(lo);
  std::vector<std::string> alts;
  const size_t l2 = hi ? std::to_string(*hi).size() : slo.size();
  for (size_t len = slo.size(); len <= l2; ++len) {
    const std::string a = len == slo.size() ? slo : "1" + repeat_str('0', len - 1);
    const std::string b = hi && len == l2 ? std::to_string(*hi) : repeat_str('9', len);
    alts.push_back(digits_range(a, b));
  }
  if (!hi && slo.size() < 18) alts.push_back("[1-9] [0-9]{" + std::to_string(slo.size()) + ",17}");
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

std::string int_range(std::optional<int64_t> lo, std::optional<int64_t> hi) {
  std::vector<std::string> alts;
  if (!lo || *lo < 0) {
    // Negative part: magnitudes from max(1, -hi) to -lo.
    const int64_t mlo = hi && *hi < 0 ? -*hi : 1;
    std::optional<int64_t> mhi;
    if (lo) mhi = -*lo;
    alts.push_back("\"-\" " + nonneg_range(mlo, mhi));
  }
  if (!hi || *hi >= 0) alts.push_back(nonneg_range(lo ? std::max<int64_t>(*lo, 0) : 0, hi));
  std::string out = "(";
  for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
  return out + ")";
}

class Compiler {
 public:
  explicit Compiler(const json& root) : root_(root) {}

  Result<std::string> run() {
    auto e = expr(root_, "");
    if (!e.ok()) return e;
    std::string out = "root ::= " + *e + "\n" + kPrimitives;
    for (const auto& r : rules_) out += r + "\n";
    return out;
  }

 private:
  static std::string at(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }
  static Error unsupported(const std::string& where, const std::string& what) {
    return Error{"schema: " + what + (where.empty() ? "" : " at '" + where + "'")};
  }
  std::string add_rule(const std::string& body) {
    const std::string name = "s" + std::to_string(rules_.size());
    rules_.push_back(name + " ::= " + body);
    return name;
  }

  Result<std::string> expr(const json& s, const std::string& path) {
    // Each level of the schema is a level of recursion here.
    if (++depth_ > 64) return unsupported(path, "nesting deeper than 64 levels");
    auto e = expr_at(s, path);
    --depth_;
    return e;
  }

  Result<std::string> expr_at(const json& s, const std::string& path) {
    if (s.is_boolean()) {
      if (s.get<bool>()) return std::string("json-value");
      return unsupported(path, "'false' (a schema that matches nothing)");
    }
    if (!s.is_object()) return unsupported(path, "a schema must be an object or a boolean");
    if (s.contains("$ref")) return ref(s, path);
    if (s.contains("const")) return only(s, path, {"const"}, quote_literal(s["const"].dump()));
    if (s.contains("enum")) return enumeration(s, path);
    for (const char* k : {"anyOf", "oneOf"})
      if (s.contains(k)) return any_of(s, path, k);
    if (s.contains("allOf")) {
      if (!s["allOf"].is_array() || s["allOf"].size() != 1)
        return unsupported(at(path, "allOf"), "'allOf' with more than one schema is not supported");
      if (auto e = only(s, path, {"allOf"}, ""); !e.ok()) return e;
      return expr(s["allOf"][0], at(path, "allOf.0"));
    }
    if (s.contains("type") && s["type"].is_array()) return type_list(s, path);
    std::string type = s.contains("type") && s["type"].is_string() ? s["type"].get<std::string>() : "";
    if (s.contains("type") && type.empty()) return unsupported(at(path, "type"), "'type' must be a string or a list");
    if (type.empty()) {
      if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties")) type = "object";
      else if (s.contains("items") || s.contains("prefixItems")) type = "array";
    }
    if (type.empty()) return only(s, path, {}, "json-value");
    if (type == "object") return object(s, path);
    if (type == "array") return array(s, path);
    if (type == "string") return string(s, path);
    if (type == "integer") return integer(s, path);
    if (type == "number") return number(s, path);
    if (type == "boolean") return only(s, path, {"type"}, "json-bool");
    if (type == "null") return only(s, path, {"type"}, "json-null");
    return unsupported(at(path, "type"), "unknown type '" + type + "'");
  }

  // `result`, once every key of `s` is an annotation or in `allowed`.
  Result<std::string> only(const json& s, const std::string& path, std::set<std::string> allowed,
                           std::string result) {
    allowed.insert("type");
    for (const auto& [k, v] : s.items())
      if (!allowed.count(k) && !kAnnotations.count(k))
        return unsupported(at(path, k), "keyword '" + k + "' is not supported here");
    return result;
  }

  Result<std::string> ref(const json& s, const std::string& path) {
    if (!s["$ref"].is_string()) return unsupported(at(path, "$ref"), "'$ref' must be a string");
    const std::string r = s["$ref"];
    if (auto e = only(s, path, {"$ref"}, ""); !e.ok()) return e;
    if (auto it = refs_.find(r); it != refs_.end()) return it->second;
    std::string key;
    for (const char* prefix : {"#/$defs/", "#/definitions/"})
      if (r.rfind(prefix, 0) == 0) key = std::string(prefix).substr(2, std::string(prefix).size() - 3);
    if (key.empty() || !root_.contains(key))
      return unsupported(at(path, "$ref"), "'$ref' '" + r + "' (only #/$defs/NAME and #/definitions/NAME)");
    const std::string name = r.substr(key.size() + 3);
    if (!root_[key].contains(name)) return unsupported(at(path, "$ref"), "'$ref' '" + r + "' is not defined");
    // Name the rule before compiling it, so a recursive schema refers to itself.
    const std::string rule = "ref" + std::to_string(refs_.size());
    refs_[r] = rule;
    auto body = expr(root_[key][name], key + "." + name);
    if (!body.ok()) return body;
    rules_.push_back(rule + " ::= " + *body);
    return rule;
  }

  Result<std::string> enumeration(const json& s, const std::string& path) {
    if (!s["enum"].is_array() || s["enum"].empty())
      return unsupported(at(path, "enum"), "'enum' must be a non-empty list");
    std::string out = "(";
    for (size_t i = 0; i < s["enum"].size(); ++i) out += (i ? " | " : "") + quote_literal(s["enum"][i].dump());
    return only(s, path, {"enum"}, out + ")");
  }

  Result<std::string> any_of(const json& s, const std::string& path, const char* key) {
    if (!s[key].is_array() || s[key].empty())
      return unsupported(at(path, key), std::string("'") + key + "' must be a non-empty list");
    if (auto e = only(s, path, {key}, ""); !e.ok()) return e;
    std::string out = "(";
    for (size_t i = 0; i < s[key].size(); ++i) {
      auto e = expr(s[key][i], at(path, std::string(key) + "." + std::to_string(i)));
      if (!e.ok()) return e;
      out += (i ? " | " : "") + *e;
    }
    return out + ")";
  }

  Result<std::string> type_list(const json& s, const std::string& path) {
    std::string out = "(";
    for (size_t i = 0; i < s["type"].size(); ++i) {
      json one = s;
      one["type"] = s["type"][i];
      auto e = expr(one, path);
      if (!e.ok()) return e;
      out += (i ? " | " : "") + *e;
    }
    return out + ")";
  }

  Result<std::string> object(const json& s, const std::string& path) {
    if (auto e = only(s, path, {"properties", "required", "additionalProperties"}, ""); !e.ok()) return e;
    const json props = s.value("properties", json::object());
    if (!props.is_object()) return unsupported(at(path, "properties"), "'properties' must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
      if (!s["required"].is_array()) return unsupported(at(path, "required"), "'required' must be a list");
      for (const auto& r : s["required"]) {
        if (!r.is_string() || !props.contains(r.get<std::string>()))
          return unsupported(at(path, "required"), "required property " + r.dump() + " is not in 'properties'");
        required.insert(r.get<std::string>());
      }
    }
    std::optional<std::string> extra;  // the value grammar of other keys, when allowed
    if (s.contains("additionalProperties")) {
      const json& ap = s["additionalProperties"];
      if (!(ap.is_boolean() && !ap.get<bool>())) {
        auto e = expr(ap, at(path, "additionalProperties"));
        if (!e.ok()) return e;
        extra = *e;
      }
    }
    // first_i: properties i.. when none has been written yet; more_i: after one has.
    std::vector<std::string> kv;
    std::vector<bool> req;
    for (const auto& [name, sub] : props.items()) {
      auto e = expr(sub, at(path, "properties." + name));
      if (!e.ok()) return e;
      kv.push_back(quote_literal(json(name).dump()) + " ws \":\" ws " + *e + " ws");
      req.push_back(required.count(name) > 0);
    }
    const std::string extra_kv = extra ? "json-string ws \":\" ws " + *extra + " ws" : "";
    std::string first = extra ? add_rule("(" + extra_kv + " (\",\" ws " + extra_kv + ")*)?") : "\"\"";
    std::string more = extra ? add_rule("(\",\" ws " + extra_kv + ")*") : "\"\"";
    for (size_t i = kv.size(); i-- > 0;) {
      const std::string f = kv[i] + " " + more + (req[i] ? "" : " | " + first);
      const std::string m = "\",\" ws " + kv[i] + " " + more + (req[i] ? "" : " | " + more);
      first = add_rule(f);
      more = add_rule(m);
    }
    return "\"{\" ws " + first + " \"}\"";
  }

  // A count's bounds (minItems/maxItems, minLength/maxLength): integers with
  // 0 <= min <= max <= limit; the error names the keyword and its path.
  Result<std::string> count_bounds(const json& s, const std::string& path, const char* min_key,
                                   const char* max_key, int64_t limit, int64_t& lo,
                                   std::optional<int64_t>& hi) {
    const std::string lim = std::to_string(limit);
    if (s.contains(min_key)) {
      if (!s[min_key].is_number_unsigned() || s[min_key].get<int64_t>() > limit)
        return unsupported(at(path, min_key), std::string("'") + min_key + "' must be an integer in [0, " + lim + "]");
      lo = s[min_key].get<int64_t>();
    }
    if (s.contains(max_key)) {
      if (!s[max_key].is_number_unsigned() || s[max_key].get<int64_t>() < lo || s[max_key].get<int64_t>() > limit)
        return unsupported(at(path, max_key), std::string("'") + max_key + "' must be an integer in [" + min_key +
                                                  ", " + lim + "]");
      hi = s[max_key].get<int64_t>();
    }
    return std::string();
  }

  Result<std::string> array(const json& s, const std::string& path) {
    if (auto e = only(s, path, {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"}, ""); !e.ok())
      return e;
    if (s.contains("uniqueItems") && s["uniqueItems"] == true)
      return unsupported(at(path, "uniqueItems"), "'uniqueItems' is not supported");
    int64_t lo = 0;
    std::optional<int64_t> hi;
    if (auto e = count_bounds(s, path, "minItems", "maxItems", 1000, lo, hi); !e.ok()) return e;
    if (s.contains("prefixItems")) {
      if (!s["prefixItems"].is_array()) return unsupported(at(path, "prefixItems"), "'prefixItems' must be a list");
      if (!(s.contains("items") && s["items"] == false) || s.contains("minItems") || s.contains("maxItems"))
        return unsupported(at(path, "prefixItems"), "'prefixItems' is supported only with \"items\": false");
      std::string out = "\"[\" ws";
      for (size_t i = 0; i < s["prefixItems"].size(); ++i) {
        auto e = expr(s["prefixItems"][i], at(path, "prefixItems." + std::to_string(i)));
        if (!e.ok()) return e;
        out += (i ? " \",\" ws " : " ") + *e + " ws";
      }
      return out + " \"]\"";
    }
    std::string item = "json-value";
    if (s.contains("items")) {
      auto e = expr(s["items"], at(path, "items"));
      if (!e.ok()) return e;
      item = *e;
    }
    const std::string next = "(\",\" ws " + item + " ws)";
    std::string body;
    if (lo == 0) {
      if (hi && *hi == 0) return std::string("\"[\" ws \"]\"");
      body = "(" + item + " ws " + next + (hi ? "{0," + std::to_string(*hi - 1) + "}" : "*") + ")?";
    } else {
      body = item + " ws " + next + "{" + std::to_string(lo - 1) + "," + (hi ? std::to_string(*hi - 1) : "") + "}";
    }
    return "\"[\" ws " + add_rule(body) + " \"]\"";
  }

  Result<std::string> string(const json& s, const std::string& path) {
    if (auto e = only(s, path, {"minLength", "maxLength", "pattern", "format"}, ""); !e.ok()) return e;
    if (s.contains("pattern")) {
      if (s.contains("minLength") || s.contains("maxLength") || s.contains("format"))
        return unsupported(at(path, "pattern"), "'pattern' together with a length or format is not supported");
      if (!s["pattern"].is_string()) return unsupported(at(path, "pattern"), "'pattern' must be a string");
      auto g = grammar::regex_to_grammar(s["pattern"].get<std::string>(), "json-char");
      if (!g.ok()) return unsupported(at(path, "pattern"), g.error());
      return "\"\\\"\" " + add_rule(*g) + " \"\\\"\"";
    }
    if (s.contains("format")) {
      static const std::map<std::string, std::string> kFormats = {
          {"date", R"([0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]))"},
          {"time", R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" ([0-5] [0-9] | "60") ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))"},
          {"uuid", R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})"},
          {"email", R"([a-zA-Z0-9._%+-]{1,64} "@" [a-zA-Z0-9-]{1,63} ("." [a-zA-Z0-9-]{1,63}){0,4} "." [a-zA-Z]{2,16})"},
      };
      const std::string f = s["format"].is_string() ? s["format"].get<std::string>() : "";
      std::string body;
      if (f == "date-time") body = kFormats.at("date") + " \"T\" " + kFormats.at("time");
      else if (auto it = kFormats.find(f); it != kFormats.end()) body = it->second;
      else return unsupported(at(path, "format"), "format '" + f + "' is not supported (date, time, date-time, uuid, email are)");
      if (s.contains("minLength") || s.contains("maxLength"))
        return unsupported(at(path, "format"), "'format' together with a length is not supported");
      return "\"\\\"\" " + add_rule(body) + " \"\\\"\"";
    }
    int64_t lo = 0;
    std::optional<int64_t> hi;
    if (auto e = count_bounds(s, path, "minLength", "maxLength", 10000, lo, hi); !e.ok()) return e;
    if (lo == 0 && !hi) return std::string("json-string");
    return "\"\\\"\" json-char{" + std::to_string(lo) + "," + (hi ? std::to_string(*hi) : "") + "} \"\\\"\"";
  }

  Result<std::optional<int64_t>> bound(const json& s, const std::string& path, const char* key) {
    if (!s.contains(key)) return std::optional<int64_t>();
    const json& v = s[key];
    if (!v.is_number() || std::abs(v.get<double>()) > 1e17)
      return unsupported(at(path, key), std::string("'") + key + "' must be a number within 1e17");
    const double d = v.get<double>();
    const bool lower = std::string(key).find("inimum") != std::string::npos;
    const bool exclusive = std::string(key).rfind("exclusive", 0) == 0;
    // The tightest integer bound: ceil for lower bounds, floor for upper, +-1 when exclusive.
    double b = lower ? std::ceil(d) : std::floor(d);
    if (exclusive && b == d) b += lower ? 1 : -1;
    return std::optional<int64_t>(static_cast<int64_t>(b));
  }

  Result<std::string> integer(const json& s, const std::string& path) {
    if (auto e = only(s, path, {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}, ""); !e.ok())
      return e;
    std::optional<int64_t> lo, hi;
    for (const char* k : {"minimum", "exclusiveMinimum"}) {
      auto b = bound(s, path, k);
      if (!b.ok()) return Error{b.error()};
      if (*b && (!lo || **b > *lo)) lo = *b;
    }
    for (const char* k : {"maximum", "exclusiveMaximum"}) {
      auto b = bound(s, path, k);
      if (!b.ok()) return Error{b.error()};
      if (*b && (!hi || **b < *hi)) hi = *b;
    }
    if (lo && hi && *lo > *hi) return unsupported(path, "the integer bounds admit no value");
    if (!lo && !hi) return std::string("json-int");
    return add_rule(int_range(lo, hi));
  }

  Result<std::string> number(const json& s, const std::string& path) {
    if (auto e = only(s, path, {"minimum"}, ""); !e.ok()) return e;
    if (!s.contains("minimum")) return std::string("json-number");
    if (!s["minimum"].is_number() || s["minimum"].get<double>() != 0)
      return unsupported(at(path, "minimum"), "'minimum' on a number other than 0 is not supported");
    return std::string("json-nonneg-number");
  }

  const json& root_;
  int depth_ = 0;
  std::vector<std::string> rules_;
  std::map<std::string, std::string> refs_;
};

}  // namespace

Result<std::string> json_schema_to_grammar(const json& schema) { return Compiler(schema).run(); }

std::string json_object_grammar() { return std::string("root ::= json-object\n") + kPrimitives; }

}  // namespace turbine
