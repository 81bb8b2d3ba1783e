#include "engine/server/openai_response.h"

#include <algorithm>

namespace turbine {

using json = nlohmann::json;

namespace {

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(int(c));
  return b;
}

// The text of a token for logprobs: its raw piece (which may be a partial UTF-8 sequence).
std::string piece(const Tokenizer& tok, int32_t id) { return tok.token_to_piece(id); }

json chat_logprob_entry(const TokenEvent& t, const Tokenizer& tok) {
  std::string p = piece(tok, t.token);
  json top = json::array();
  for (const auto& a : t.top) {
    std::string ap = piece(tok, a.token);
    top.push_back({{"token", ap}, {"logprob", a.logprob}, {"bytes", bytes_of(ap)}});
  }
  return {{"token", p}, {"logprob", t.logprob}, {"bytes", bytes_of(p)}, {"top_logprobs", top}};
}

json completion_logprobs(const std::vector<const TokenEvent*>& ts, const Tokenizer& tok,
                         size_t text_offset) {
  json tokens = json::array(), lps = json::array(), tops = json::array(), offs = json::array();
  for (const TokenEvent* t : ts) {
    std::string p = piece(tok, t->token);
    tokens.push_back(p);
    lps.push_back(t->logprob);
    json top = json::object();
    for (const auto& a : t->top) top[piece(tok, a.token)] = a.logprob;
    tops.push_back(top);
    offs.push_back(text_offset);
    text_offset += t->text.size();
  }
  return {{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offs}};
}

json usage(int prompt, int completion, int cached) {
  json u = {{"prompt_tokens", prompt}, {"completion_tokens", completion}, {"total_tokens", prompt + completion}};
  if (cached > 0) u["prompt_tokens_details"] = {{"cached_tokens", cached}};
  return u;
}

}  // namespace

std::string_view api_finish_reason(FinishReason r) {
  switch (r) {
    case FinishReason::kStop:
    case FinishReason::kCancelled:
      return "stop";
    case FinishReason::kLength:
    case FinishReason::kTimeout:
      return "length";
    case FinishReason::kError:
      return "error";
  }
  return "stop";
}

std::string to_wire(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

UsageCounts sum_usage(const std::vector<ChoiceUsage>& choices) {
  UsageCounts u;
  std::vector<int> seen;
  for (const ChoiceUsage& c : choices) {
    u.completion += c.completion_tokens;
    if (std::find(seen.begin(), seen.end(), c.prompt_index) != seen.end()) continue;
    seen.push_back(c.prompt_index);
    u.prompt += c.prompt_tokens;
    u.cached += c.cached_tokens;
  }
  return u;
}

json build_response(const ResponseContext& rc, const std::vector<ChoiceResult>& choices,
                    const Tokenizer& tok) {
  json out_choices = json::array();
  std::vector<ChoiceUsage> usages;
  for (const ChoiceResult& c : choices) {
    json ch = {{"index", c.index}, {"finish_reason", api_finish_reason(c.finish.reason)}, {"logprobs", nullptr}};
    if (rc.chat && rc.tools) {
      ParsedToolCalls p = parse_tool_calls(c.text, *rc.tools);
      ch["message"] = {{"role", "assistant"}, {"content", c.text}};
      if (!p.calls.empty()) {
        ch["message"]["content"] = p.content.empty() ? json() : json(p.content);
        json calls = json::array();
        for (const auto& tc : p.calls)
          calls.push_back({{"id", tc.id}, {"type", "function"},
                           {"function", {{"name", tc.name}, {"arguments", tc.arguments}}}});
        ch["message"]["tool_calls"] = calls;
        if (c.finish.reason == FinishReason::kStop) ch["finish_reason"] = "tool_calls";
      }
    } else if (rc.chat) {
      ch["message"] = {{"role", "assistant"}, {"content", c.text}};
      if (rc.logprobs) {
        json content = json::array();
        for (const auto& t : c.tokens) content.push_back(chat_logprob_entry(t, tok));
        ch["logprobs"] = {{"content", content}};
      }
    } else {
      ch["text"] = c.text;
      if (rc.logprobs) {
        std::vector<const TokenEvent*> ts;
        for (const auto& t : c.tokens) ts.push_back(&t);
        ch["logprobs"] = completion_logprobs(ts, tok, c.echo_bytes);
      }
    }
    out_choices.push_back(ch);
    usages.push_back({c.prompt_index, c.finish.prompt_tokens ? c.finish.prompt_tokens : c.prompt_tokens,
                      c.finish.completion_tokens, c.finish.cached_tokens});
  }
  const UsageCounts u = sum_usage(usages);
  return {{"id", rc.id},
          {"object", rc.chat ? "chat.completion" : "text_completion"},
          {"created", rc.created},
          {"model", rc.model},
          {"choices", out_choices},
          {"usage", usage(u.prompt, u.completion, u.cached)}};
}

static json chunk(const ResponseContext& rc, json choice) {
  json c = {{"id", rc.id},
            {"object", rc.chat ? "chat.completion.chunk" : "text_completion"},
            {"created", rc.created},
            {"model", rc.model},
            {"choices", json::array({std::move(choice)})}};
  if (rc.stream_usage) c["usage"] = nullptr;
  return c;
}

json build_role_chunk(const ResponseContext& rc, int index) {
  return chunk(rc, {{"index", index}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                    {"logprobs", nullptr}, {"finish_reason", nullptr}});
}

json build_token_chunk(const ResponseContext& rc, int index, const TokenEvent& t, const Tokenizer& tok,
                       size_t text_offset) {
  json lp = nullptr;
  if (rc.logprobs) {
    lp = rc.chat ? json{{"content", json::array({chat_logprob_entry(t, tok)})}}
                 : completion_logprobs({&t}, tok, text_offset);
  }
  if (rc.chat)
    return chunk(rc, {{"index", index}, {"delta", {{"content", t.text}}}, {"logprobs", lp}, {"finish_reason", nullptr}});
  return chunk(rc, {{"index", index}, {"text", t.text}, {"logprobs", lp}, {"finish_reason", nullptr}});
}

json build_text_chunk(const ResponseContext& rc, int index, const std::string& text) {
  return chunk(rc, {{"index", index}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
}

json build_finish_chunk(const ResponseContext& rc, int index, const FinishEvent& f) {
  const std::string_view reason = api_finish_reason(f.reason);
  if (rc.chat)
    return chunk(rc, {{"index", index},
                      {"delta", f.text.empty() ? json::object() : json{{"content", f.text}}},
                      {"logprobs", nullptr}, {"finish_reason", reason}});
  return chunk(rc, {{"index", index}, {"text", f.text}, {"logprobs", nullptr}, {"finish_reason", reason}});
}

json build_usage_chunk(const ResponseContext& rc, int prompt, int completion, int cached) {
  json c = chunk(rc, nullptr);
  c["choices"] = json::array();
  c["usage"] = usage(prompt, completion, cached);
  return c;
}

std::vector<json> build_tool_call_chunks(const ResponseContext& rc, int index,
                                         const std::vector<ApiToolCall>& calls) {
  constexpr size_t kPiece = 24;  // argument bytes per chunk
  std::vector<json> out;
  for (size_t i = 0; i < calls.size(); ++i) {
    const ApiToolCall& tc = calls[i];
    json head = {{"index", i}, {"id", tc.id}, {"type", "function"},
                 {"function", {{"name", tc.name}, {"arguments", ""}}}};
    out.push_back(chunk(rc, {{"index", index}, {"delta", {{"tool_calls", json::array({head})}}},
                             {"logprobs", nullptr}, {"finish_reason", nullptr}}));
    for (size_t at = 0; at < tc.arguments.size(); at += kPiece) {
      json piece = {{"index", i}, {"function", {{"arguments", tc.arguments.substr(at, kPiece)}}}};
      out.push_back(chunk(rc, {{"index", index}, {"delta", {{"tool_calls", json::array({piece})}}},
                               {"logprobs", nullptr}, {"finish_reason", nullptr}}));
    }
  }
  return out;
}

json build_content_chunk(const ResponseContext& rc, int index, const std::string& text) {
  return chunk(rc, {{"index", index}, {"delta", {{"content", text}}}, {"logprobs", nullptr}, {"finish_reason", nullptr}});
}

json build_finish_chunk_as(const ResponseContext& rc, int index, std::string_view reason,
                           const std::string& text) {
  return chunk(rc, {{"index", index},
                    {"delta", text.empty() ? json::object() : json{{"content", text}}},
                    {"logprobs", nullptr}, {"finish_reason", reason}});
}

SamplingParams to_sampling_params(const ApiSampling& s) {
  SamplingParams p;
  p.temperature = s.temperature;
  p.top_p = s.top_p;
  p.top_k = s.top_k;
  p.min_p = s.min_p;
  p.presence_penalty = s.presence_penalty;
  p.frequency_penalty = s.frequency_penalty;
  p.repetition_penalty = s.repetition_penalty;
  p.penalty_last_n = -1;  // the API's repetition_penalty (vLLM's) covers prompt and output
  p.seed = s.seed;
  p.stop = s.stop;
  p.logit_bias = s.logit_bias;
  p.ignore_eos = s.ignore_eos;
  return p;
}

}  // namespace turbine
