#include "engine/server/openai_request.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>

#include "engine/server/json_schema_grammar.h"

namespace turbine {
namespace {

using json = nlohmann::json;
using Parsed = std::variant<ApiRequest, ApiError>;

// Reads optional typed fields, recording the first error.
class Reader {
 public:
  explicit Reader(const json& j) : j_(j) {}
  std::optional<ApiError> err;

  bool has(const char* k) const { return j_.contains(k) && !j_[k].is_null(); }

  template <typename T>
  void number(const char* k, T& out, double lo, double hi) {
    if (err || !has(k)) return;
    const json& v = j_[k];
    if (!v.is_number()) return fail(std::string("'") + k + "' must be a number", k);
    double d = v.get<double>();
    if (std::is_integral_v<T> && !v.is_number_integer())
      return fail(std::string("'") + k + "' must be an integer", k);
    if (!(d >= lo && d <= hi) || std::isnan(d))
      return fail(std::string("'") + k + "' must be between " + fmt(lo) + " and " + fmt(hi) +
                      " (got " + fmt(d) + ")", k);
    out = static_cast<T>(d);
  }
  void boolean(const char* k, bool& out) {
    if (err || !has(k)) return;
    if (!j_[k].is_boolean()) return fail(std::string("'") + k + "' must be a boolean", k);
    out = j_[k].get<bool>();
  }
  void string(const char* k, std::string& out) {
    if (err || !has(k)) return;
    if (!j_[k].is_string()) return fail(std::string("'") + k + "' must be a string", k);
    out = j_[k].get<std::string>();
  }
  void fail(std::string msg, const char* param) {
    if (!err) err = ApiError::invalid(std::move(msg), std::string(param));
  }
  static std::string fmt(double d) {
    if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<long long>(d));
    char b[32];
    std::snprintf(b, sizeof b, "%g", d);
    return b;
  }

 private:
  const json& j_;
};

// Every field of the request is one we act on, or one whose value asks for nothing we would
// have to do (response_format "text", an empty tools list, ...). Anything else is a 400
// naming the field: a request is never answered as if a field had not been sent.
std::optional<ApiError> check_fields(const json& j, bool chat) {
  static const std::set<std::string_view> kCommon = {
      "model", "frequency_penalty", "logit_bias", "logprobs", "max_tokens", "n", "presence_penalty",
      "seed", "stop", "stream", "stream_options", "temperature", "top_p", "user",
      // extensions, as vLLM and llama-server name them
      "top_k", "min_p", "repetition_penalty", "ignore_eos", "response_format", "grammar"};
  static const std::set<std::string_view> kChat = {"messages", "max_completion_tokens", "top_logprobs",
                                                   "tools", "tool_choice", "parallel_tool_calls"};
  static const std::set<std::string_view> kCompletion = {"prompt", "echo"};
  const auto unsupported = [](const std::string& field, const std::string& why) {
    return ApiError::invalid("'" + quote_input(field, 64) + "' " + why, field);
  };
  for (const auto& [key, v] : j.items()) {
    if (kCommon.count(key) || (chat ? kChat : kCompletion).count(key) || v.is_null()) continue;
    if (key == "store" && v.is_boolean() && !v.get<bool>()) continue;  // nothing is stored
    if (chat && key == "modalities" && v == json::array({"text"})) continue;
    if (!chat && key == "best_of") {
      const json n = j.contains("n") && !j["n"].is_null() ? j["n"] : json(1);
      if (v.is_number_integer() && (v == 1 || v == n)) continue;
      return unsupported(key, "other than 1 (or n) is not supported");
    }
    if (!chat && key == "suffix" && v.is_string() && v.get<std::string>().empty()) continue;
    return unsupported(key, "is not a supported parameter");
  }
  return std::nullopt;
}

constexpr size_t kMaxGrammarBytes = 256 * 1024;

// The body again with its keys in document order, parsed once and only when a schema or a
// tool list needs it (their properties are generated in the order they were written).
class OrderedBody {
 public:
  explicit OrderedBody(const std::string& body) : body_(body) {}
  const nlohmann::ordered_json& get() {
    if (!parsed_) j_ = nlohmann::ordered_json::parse(body_, nullptr, false), parsed_ = true;
    return j_;
  }

 private:
  const std::string& body_;
  nlohmann::ordered_json j_;
  bool parsed_ = false;
};

// response_format and `grammar` -> the grammar text the output must match.
std::optional<ApiError> parse_constraint(const json& j, OrderedBody& body, ApiRequest& r) {
  const bool has_rf = j.contains("response_format") && !j["response_format"].is_null();
  const bool has_grammar = j.contains("grammar") && !j["grammar"].is_null();
  if (has_rf) {
    const json& rf = j["response_format"];
    const auto bad = [](std::string msg) { return ApiError::invalid(std::move(msg), "response_format"); };
    if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
      return bad("'response_format' must be an object with a string 'type'");
    const std::string type = rf["type"];
    for (const auto& [k, v] : rf.items())
      if (k != "type" && !(k == "json_schema" && type == "json_schema"))
        return bad("'response_format." + quote_input(k, 64) + "' is not a supported field for type '" +
                   quote_input(type, 64) + "'");
    if (type == "json_object") {
      r.constraint = ApiConstraint{"json_object", json_object_grammar(), "response_format"};
    } else if (type == "json_schema") {
      if (!rf.contains("json_schema") || !rf["json_schema"].is_object())
        return bad("'response_format.json_schema' must be an object with a 'schema'");
      const json& js = rf["json_schema"];
      for (const auto& [k, v] : js.items())
        if (k != "name" && k != "schema" && k != "strict" && k != "description")
          return bad("'response_format.json_schema." + quote_input(k, 64) + "' is not a supported field");
      if (!js.contains("schema")) return bad("'response_format.json_schema.schema' is required");
      auto g = json_schema_to_grammar(body.get()["response_format"]["json_schema"]["schema"]);
      if (!g.ok()) return bad("'response_format.json_schema.schema' is not supported: " + g.error());
      r.constraint = ApiConstraint{"json_schema", *g, "response_format"};
    } else if (type != "text") {
      return bad("'response_format.type' must be 'text', 'json_object' or 'json_schema'");
    }
  }
  if (has_grammar) {
    if (r.constraint)
      return ApiError::invalid("'grammar' and a JSON 'response_format' cannot be combined", "grammar");
    const json& g = j["grammar"];
    if (!g.is_string() || g.get<std::string>().empty() || g.get<std::string>().size() > kMaxGrammarBytes)
      return ApiError::invalid("'grammar' must be a non-empty string of at most 256 KiB", "grammar");
    r.constraint = ApiConstraint{"grammar", g.get<std::string>(), "grammar"};
  }
  return std::nullopt;
}

bool tool_name_ok(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  for (char ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') return false;
  return true;
}

// tools, tool_choice, parallel_tool_calls (chat). With "required" or a named function the
// output is constrained to calls, so a JSON response_format cannot come with it.
std::optional<ApiError> parse_tools(const json& j, OrderedBody& body, ApiRequest& r) {
  if (j.contains("tools") && !j["tools"].is_null()) {
    if (!j["tools"].is_array()) return ApiError::invalid("'tools' must be an array", "tools");
    for (size_t i = 0; i < j["tools"].size(); ++i) {
      const json& t = j["tools"][i];
      const std::string at = "tools[" + std::to_string(i) + "]";
      if (!t.is_object() || t.value("type", "") != "function" || !t.contains("function") ||
          !t["function"].is_object())
        return ApiError::invalid("'" + at + "' must be {\"type\": \"function\", \"function\": {...}}", "tools");
      for (const auto& [k, v] : t["function"].items())
        if (k != "name" && k != "description" && k != "parameters" && k != "strict")
          return ApiError::invalid("'" + at + ".function." + quote_input(k, 64) + "' is not supported", "tools");
      const json& f = t["function"];
      if (!f.contains("name") || !f["name"].is_string() || !tool_name_ok(f["name"]))
        return ApiError::invalid("'" + at + ".function.name' must be 1-64 letters, digits, _ or -", "tools");
      const std::string name = f["name"];
      for (const ApiTool& prev : r.tools)
        if (prev.name == name) return ApiError::invalid("tool '" + name + "' is defined twice", "tools");
      if (f.contains("parameters") && !f["parameters"].is_object())
        return ApiError::invalid("'" + at + ".function.parameters' must be a JSON Schema object", "tools");
      r.tools.push_back({name, body.get()["tools"][i]["function"]});
    }
  }
  if (j.contains("parallel_tool_calls") && !j["parallel_tool_calls"].is_null()) {
    if (!j["parallel_tool_calls"].is_boolean())
      return ApiError::invalid("'parallel_tool_calls' must be a boolean", "parallel_tool_calls");
    r.parallel_tool_calls = j["parallel_tool_calls"];
  }
  if (j.contains("tool_choice") && !j["tool_choice"].is_null()) {
    const json& tc = j["tool_choice"];
    if (tc.is_string() && (tc == "none" || tc == "auto" || tc == "required")) {
      r.tool_choice = tc;
    } else if (tc.is_object() && tc.value("type", "") == "function" && tc.contains("function") &&
               tc["function"].is_object() && tc["function"].contains("name") && tc["function"]["name"].is_string()) {
      r.tool_choice = "function";
      r.tool_choice_name = tc["function"]["name"];
    } else {
      return ApiError::invalid("'tool_choice' must be 'none', 'auto', 'required' or "
                               "{\"type\": \"function\", \"function\": {\"name\": ...}}", "tool_choice");
    }
  }
  if (r.tools.empty()) {
    if (r.tool_choice == "required" || r.tool_choice == "function")
      return ApiError::invalid("'tool_choice' needs 'tools'", "tool_choice");
    r.tool_choice = "none";
    return std::nullopt;
  }
  if (r.tool_choice == "none") return std::nullopt;
  // Every tool's parameters must compile, whatever the choice: a schema we cannot hold to
  // is an error now, not when a constrained request meets it.
  std::optional<std::string> only;
  if (r.tool_choice == "function") only = r.tool_choice_name;
  auto g = tool_call_grammar(r.tools, only, r.parallel_tool_calls);
  if (!g.ok()) return ApiError::invalid("'tools' cannot be used: " + g.error(), only ? "tool_choice" : "tools");
  if (r.tool_choice == "required" || r.tool_choice == "function") {
    if (r.constraint)
      return ApiError::invalid("'tool_choice' " + r.tool_choice + " cannot be combined with '" +
                                   r.constraint->param + "'", "tool_choice");
    r.constraint = ApiConstraint{"tools", *g, "tools"};
  }
  return std::nullopt;
}

std::optional<ApiError> parse_common(const json& j, OrderedBody& body, ApiRequest& r,
                                     const RequestLimits& lim) {
  Reader rd(j);
  if (!j.contains("model") || !j["model"].is_string())
    return ApiError::invalid("'model' is required and must be a string", "model");
  r.model = j["model"].get<std::string>();
  if (auto e = parse_constraint(j, body, r)) return e;
  auto& s = r.sampling;
  rd.number("temperature", s.temperature, 0.0, 2.0);
  rd.number("top_p", s.top_p, 0.0, 1.0);
  if (!rd.err && rd.has("top_p") && s.top_p <= 0.0f) rd.fail("'top_p' must be greater than 0", "top_p");
  rd.number("top_k", s.top_k, -1, 1 << 20);
  rd.number("min_p", s.min_p, 0.0, 1.0);
  rd.number("presence_penalty", s.presence_penalty, -2.0, 2.0);
  rd.number("frequency_penalty", s.frequency_penalty, -2.0, 2.0);
  rd.number("repetition_penalty", s.repetition_penalty, 0.01, 10.0);
  rd.number("n", r.n, 1, lim.max_n);
  rd.boolean("stream", r.stream);
  rd.boolean("ignore_eos", s.ignore_eos);
  rd.string("user", r.user);
  if (rd.err) return rd.err;
  if (rd.has("seed")) {
    if (!j["seed"].is_number_integer()) return ApiError::invalid("'seed' must be an integer", "seed");
    s.seed = j["seed"].is_number_unsigned() ? j["seed"].get<uint64_t>()
                                            : static_cast<uint64_t>(j["seed"].get<int64_t>());
  }
  int max_tokens = -1;
  for (const char* k : {"max_tokens", "max_completion_tokens"}) {
    if (!rd.has(k)) continue;
    int v = 0;
    rd.number(k, v, 1, 1 << 24);
    if (rd.err) return rd.err;
    max_tokens = v;
  }
  if (max_tokens > 0) r.max_tokens = max_tokens;
  if (rd.has("stop")) {
    const json& st = j["stop"];
    if (st.is_string()) {
      r.sampling.stop.push_back(st.get<std::string>());
    } else if (st.is_array()) {
      for (const json& x : st) {
        if (!x.is_string()) return ApiError::invalid("'stop' must be a string or an array of strings", "stop");
        r.sampling.stop.push_back(x.get<std::string>());
      }
    } else {
      return ApiError::invalid("'stop' must be a string or an array of strings", "stop");
    }
    if (static_cast<int>(r.sampling.stop.size()) > lim.max_stop)
      return ApiError::invalid("'stop' accepts at most " + std::to_string(lim.max_stop) + " sequences", "stop");
    for (const auto& x : r.sampling.stop)
      if (x.empty()) return ApiError::invalid("'stop' sequences must not be empty", "stop");
  }
  if (rd.has("stream_options")) {
    const json& so = j["stream_options"];
    if (!so.is_object()) return ApiError::invalid("'stream_options' must be an object", "stream_options");
    if (!r.stream) return ApiError::invalid("'stream_options' is only allowed when 'stream' is true", "stream_options");
    if (so.contains("include_usage")) {
      if (!so["include_usage"].is_boolean())
        return ApiError::invalid("'stream_options.include_usage' must be a boolean", "stream_options");
      r.include_usage = so["include_usage"].get<bool>();
    }
  }
  if (rd.has("logit_bias")) {
    const json& lb = j["logit_bias"];
    if (!lb.is_object()) return ApiError::invalid("'logit_bias' must be an object of token id -> bias", "logit_bias");
    for (auto it = lb.begin(); it != lb.end(); ++it) {
      char* end = nullptr;
      long id = std::strtol(it.key().c_str(), &end, 10);
      if (it.key().empty() || *end || id < 0 || id > INT32_MAX || !it.value().is_number())
        return ApiError::invalid("'logit_bias' keys must be token ids and values numbers", "logit_bias");
      double b = it.value().get<double>();
      if (b < -100 || b > 100) return ApiError::invalid("'logit_bias' values must be between -100 and 100", "logit_bias");
      r.sampling.logit_bias[static_cast<int32_t>(id)] = static_cast<float>(b);
    }
  }
  return std::nullopt;
}

json parse_body(const std::string& body, std::optional<ApiError>& err) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    err = ApiError::invalid("The request body is not valid JSON.");
  } else if (!j.is_object()) {
    err = ApiError::invalid("The request body must be a JSON object.");
  }
  return j;
}

// An assistant turn's tool_calls and a tool turn's tool_call_id.
std::optional<ApiError> parse_message_tools(const json& m, ApiMessage& am) {
  if (m.contains("tool_calls") && !m["tool_calls"].is_null()) {
    if (am.role != "assistant" || !m["tool_calls"].is_array())
      return ApiError::invalid("'tool_calls' belongs to assistant messages, as an array", "messages");
    for (const json& tc : m["tool_calls"]) {
      if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object() ||
          !tc["function"].contains("name") || !tc["function"]["name"].is_string())
        return ApiError::invalid("each tool call needs a 'function' with a 'name'", "messages");
      const json& f = tc["function"];
      std::string args = "{}";
      if (f.contains("arguments") && f["arguments"].is_string()) args = f["arguments"];
      am.tool_calls.push_back({tc.value("id", ""), f["name"], args});
    }
  }
  if (m.contains("tool_call_id") && !m["tool_call_id"].is_null()) {
    if (am.role != "tool" || !m["tool_call_id"].is_string())
      return ApiError::invalid("'tool_call_id' belongs to tool messages, as a string", "messages");
    am.tool_call_id = m["tool_call_id"];
  }
  return std::nullopt;
}

std::optional<ApiError> parse_messages(const json& j, std::vector<ApiMessage>& out) {
  if (!j.contains("messages") || !j["messages"].is_array() || j["messages"].empty())
    return ApiError::invalid("'messages' is required and must be a non-empty array", "messages");
  for (const json& m : j["messages"]) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string())
      return ApiError::invalid("each message needs a string 'role'", "messages");
    ApiMessage am;
    am.role = m["role"].get<std::string>();
    if (am.role != "system" && am.role != "user" && am.role != "assistant" && am.role != "developer" && am.role != "tool")
      return ApiError::invalid("unknown message role '" + quote_input(am.role) + "'", "messages");
    if (am.role == "developer") am.role = "system";
    const json& c = m.contains("content") ? m["content"] : json();
    if (c.is_string()) {
      am.content = c.get<std::string>();
    } else if (c.is_array()) {
      // Content parts: only text is supported by a text-only model.
      for (const json& part : c) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
          return ApiError::invalid("only text content parts are supported", "messages");
        am.content += part["text"].get<std::string>();
      }
    } else if (!c.is_null()) {
      return ApiError::invalid("message 'content' must be a string or an array of text parts", "messages");
    }
    if (auto e = parse_message_tools(m, am)) return e;
    out.push_back(std::move(am));
  }
  return std::nullopt;
}

}  // namespace

Parsed parse_chat_request(const std::string& body, const RequestLimits& lim) {
  std::optional<ApiError> err;
  json j = parse_body(body, err);
  if (err) return *err;
  ApiRequest r;
  r.chat = true;
  if (auto e = check_fields(j, /*chat=*/true)) return *e;
  OrderedBody ordered(body);
  if (auto e = parse_common(j, ordered, r, lim)) return *e;
  if (auto e = parse_messages(j, r.messages)) return *e;
  if (auto e = parse_tools(j, ordered, r)) return *e;
  Reader rd(j);
  rd.boolean("logprobs", r.logprobs);
  rd.number("top_logprobs", r.top_logprobs, 0, lim.max_top_logprobs);
  if (rd.err) return *rd.err;
  if (r.top_logprobs > 0 && !r.logprobs)
    return ApiError::invalid("'top_logprobs' requires 'logprobs' to be true", "top_logprobs");
  return r;
}

Parsed parse_completion_request(const std::string& body, const RequestLimits& lim) {
  std::optional<ApiError> err;
  json j = parse_body(body, err);
  if (err) return *err;
  ApiRequest r;
  r.chat = false;
  if (auto e = check_fields(j, /*chat=*/false)) return *e;
  OrderedBody ordered(body);
  if (auto e = parse_common(j, ordered, r, lim)) return *e;
  if (!j.contains("prompt")) return ApiError::invalid("'prompt' is required", "prompt");
  const json& p = j["prompt"];
  auto token_list = [](const json& a, std::vector<int32_t>& out) {
    for (const json& x : a) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX) return false;
      out.push_back(static_cast<int32_t>(x.get<int64_t>()));
    }
    return true;
  };
  const char* kShape = "'prompt' must be a string, an array of strings, an array of token ids or an array of such arrays";
  if (p.is_string()) {
    r.prompts.emplace_back(p.get<std::string>());
  } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
    std::vector<int32_t> ids;
    if (!token_list(p, ids)) return ApiError::invalid(kShape, "prompt");
    r.prompts.emplace_back(std::move(ids));
  } else if (p.is_array() && !p.empty()) {
    for (const json& x : p) {
      if (x.is_string()) {
        r.prompts.emplace_back(x.get<std::string>());
      } else if (x.is_array()) {
        std::vector<int32_t> ids;
        if (!token_list(x, ids)) return ApiError::invalid(kShape, "prompt");
        r.prompts.emplace_back(std::move(ids));
      } else {
        return ApiError::invalid(kShape, "prompt");
      }
    }
  } else {
    return ApiError::invalid(kShape, "prompt");
  }
  if (static_cast<int>(r.prompts.size()) * r.n > lim.max_n * 4)
    return ApiError::invalid("too many prompts x n in one request", "prompt");
  Reader rd(j);
  rd.boolean("echo", r.echo);
  if (rd.has("logprobs")) {
    if (j["logprobs"].is_boolean()) {  // tolerated: true means 0 alternatives
      r.logprobs = j["logprobs"].get<bool>();
    } else {
      rd.number("logprobs", r.top_logprobs, 0, 5);
      r.logprobs = true;
    }
  }
  if (rd.err) return *rd.err;
  // Echo with logprobs would need the prompt tokens' logprobs (a prefill that keeps every
  // row of logits); say so rather than answer without them.
  if (r.echo && r.logprobs) return ApiError::invalid("echo with logprobs is not supported", "echo");
  return r;
}

std::variant<TokenizeRequest, ApiError> parse_tokenize_request(const std::string& body) {
  std::optional<ApiError> err;
  json j = parse_body(body, err);
  if (err) return *err;
  TokenizeRequest t;
  Reader rd(j);
  rd.boolean("add_special_tokens", t.add_special_tokens);
  rd.boolean("add_generation_prompt", t.add_generation_prompt);
  if (rd.err) return *rd.err;
  if (rd.has("prompt")) {
    if (!j["prompt"].is_string()) return ApiError::invalid("'prompt' must be a string", "prompt");
    t.prompt = j["prompt"].get<std::string>();
    return t;
  }
  if (!rd.has("messages")) return ApiError::invalid("'prompt' (string) or 'messages' is required", "prompt");
  if (auto e = parse_messages(j, t.messages)) return *e;
  return t;
}

std::variant<std::vector<int32_t>, ApiError> parse_detokenize_request(const std::string& body,
                                                                      int n_vocab) {
  std::optional<ApiError> err;
  json j = parse_body(body, err);
  if (err) return *err;
  if (!j.contains("tokens") || !j["tokens"].is_array())
    return ApiError::invalid("'tokens' (an array of token ids) is required", "tokens");
  std::vector<int32_t> ids;
  for (const json& t : j["tokens"]) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= n_vocab)
      return ApiError::invalid("token ids must be integers in [0, " + std::to_string(n_vocab) + ")",
                               "tokens");
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  return ids;
}

int64_t prompt_token_limit(int max_prompt_tokens, int64_t context_tokens) {
  const int64_t room = context_tokens - 1;
  return max_prompt_tokens > 0 ? std::min<int64_t>(max_prompt_tokens, room) : room;
}

}  // namespace turbine
