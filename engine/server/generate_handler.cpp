#include "engine/server/generate_handler.h"

#include <chrono>
#include <memory>
#include <random>

#include "engine/runtime/engine_metrics.h"
#include "engine/server/choice_stream.h"
#include "engine/server/openai_response.h"

namespace turbine {

namespace {

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s = prefix;
  for (int i = 0; i < 24; ++i) s += kHex[rng() & 15];
  return s;
}

Rejection invalid(std::string message, std::optional<std::string> param = std::nullopt) {
  return {ApiError::invalid(std::move(message), std::move(param)), RejectReason::kInvalid};
}

// The choices of a streamed response, owned by the stream callback; a stream that never
// ran (the connection failed first) still cancels them.
struct StreamState {
  std::vector<PendingChoice> choices;
  ~StreamState() { cancel_unfinished(choices); }
};

}  // namespace

GenerateHandler::GenerateHandler(Engine& engine, const Tokenizer& tok,
                                 const ChatTemplate* chat_template, std::string chat_template_error,
                                 const ApiOptions& opt, EngineMetrics* metrics)
    : engine_(engine),
      tok_(tok),
      chat_template_(chat_template),
      chat_template_error_(std::move(chat_template_error)),
      opt_(opt),
      metrics_(metrics),
      grammars_(tok, metrics) {}

http::Response GenerateHandler::handle(const http::Request& req, bool chat) const {
  auto parsed = chat ? parse_chat_request(req.body, opt_.limits)
                     : parse_completion_request(req.body, opt_.limits);
  if (auto* e = std::get_if<ApiError>(&parsed))
    return reject({*e, RejectReason::kInvalid}, metrics_);
  const ApiRequest r = std::move(std::get<ApiRequest>(parsed));
  if (r.model != opt_.model_id)
    return reject({ApiError::model_not_found(r.model), RejectReason::kInvalid}, metrics_);

  if (auto rej = check_stops(r)) return reject(*rej, metrics_);
  auto prompts = build_prompts(r);
  if (auto* rej = std::get_if<Rejection>(&prompts)) return reject(*rej, metrics_);
  auto grammar = compile_constraint(r);
  if (auto* rej = std::get_if<Rejection>(&grammar)) return reject(*rej, metrics_);
  auto choices = submit_choices(r, std::get<std::vector<Prompt>>(prompts), std::get<Automaton>(grammar));
  if (auto* rej = std::get_if<Rejection>(&choices)) return reject(*rej, metrics_);

  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  ResponseContext rc{random_id(chat ? "chatcmpl-" : "cmpl-"),
                           created,
                           opt_.model_id,
                           chat,
                           r.logprobs,
                           r.top_logprobs > 0 || r.logprobs,
                           r.stream && r.include_usage};
  rc.tools = r.tools.empty() || r.tool_choice == "none"
                 ? nullptr
                 : std::make_shared<const std::vector<ApiTool>>(r.tools);
  auto& list = std::get<std::vector<PendingChoice>>(choices);
  if (r.stream) return stream(std::move(list), rc, r.include_usage);
  return collect(req, std::move(list), rc);
}

// The conversation as the template renders it: the tools described in the system message
// (unless tool_choice is none), assistant tool calls and tool results in the Hermes form
// (tool_calls.h), consecutive tool results in one user turn.
std::vector<ChatMessage> chat_messages(const ApiRequest& r) {
  std::vector<ChatMessage> msgs;
  const bool tools = !r.tools.empty() && r.tool_choice != "none";
  bool previous_tool = false;
  for (const auto& m : r.messages) {
    if (m.role == "tool") {
      if (previous_tool) {
        msgs.back().content += "\n" + render_tool_response(m.content);
      } else {
        msgs.push_back({"user", render_tool_response(m.content)});
      }
      previous_tool = true;
      continue;
    }
    previous_tool = false;
    msgs.push_back({m.role, m.tool_calls.empty() ? m.content : render_tool_calls(m.content, m.tool_calls)});
  }
  if (tools) {
    const std::string sys = tools_system_prompt(r.tools);
    if (!msgs.empty() && msgs[0].role == "system") {
      msgs[0].content += "\n\n" + sys;
    } else {
      msgs.insert(msgs.begin(), {"system", sys});
    }
  }
  return msgs;
}

GenerateHandler::Step<std::vector<GenerateHandler::Prompt>> GenerateHandler::build_prompts(
    const ApiRequest& r) const {
  std::vector<Prompt> prompts;
  if (r.chat) {
    if (!chat_template_)
      return invalid("This model's chat template is not supported (" + chat_template_error_ +
                     "); use /v1/completions.");
    std::string text = chat_template_->render(chat_messages(r), /*add_generation_prompt=*/true);
    prompts.push_back(
        {tok_.encode(text, /*add_special=*/true, /*parse_special=*/true), std::move(text)});
  } else {
    for (const auto& p : r.prompts) {
      if (auto* s = std::get_if<std::string>(&p)) {
        prompts.push_back({tok_.encode(*s, /*add_special=*/true, /*parse_special=*/false), *s});
        continue;
      }
      const auto& ids = std::get<std::vector<int32_t>>(p);
      for (int32_t id : ids)
        if (id >= tok_.n_vocab())
          return invalid("prompt token id " + std::to_string(id) + " is outside the vocabulary",
                         "prompt");
      prompts.push_back({ids, r.echo ? tok_.decode(ids) : std::string()});
    }
  }
  const char* param = r.chat ? "messages" : "prompt";
  const int64_t limit = prompt_token_limit(opt_.max_prompt_tokens, engine_.max_context_tokens());
  for (const auto& p : prompts) {
    if (p.ids.empty()) return invalid("The prompt is empty.", param);
    if (static_cast<int64_t>(p.ids.size()) > limit)
      return Rejection{ApiError::too_large("The prompt has " + std::to_string(p.ids.size()) +
                                               " tokens; this server accepts at most " +
                                               std::to_string(limit) + ".",
                                           param),
                       RejectReason::kTooLong};
  }
  return prompts;
}

std::optional<Rejection> GenerateHandler::check_stops(const ApiRequest& r) const {
  // A stop string that cannot fit in the context can never match; it would only make the
  // stream hold back its whole text. Each token is at least one byte, so only a string with
  // more bytes than the context has tokens needs tokenizing to tell.
  const int64_t ctx = engine_.max_context_tokens();
  for (const std::string& s : r.sampling.stop) {
    if (static_cast<int64_t>(s.size()) <= ctx) continue;
    const size_t n = tok_.encode(s, /*add_special=*/false, /*parse_special=*/false).size();
    if (static_cast<int64_t>(n) > ctx)
      return invalid("a stop string of " + std::to_string(n) +
                         " tokens is longer than the context (" + std::to_string(ctx) +
                         " tokens) and could never match",
                     "stop");
  }
  return std::nullopt;
}

GenerateHandler::Step<GenerateHandler::Automaton> GenerateHandler::compile_constraint(
    const ApiRequest& r) const {
  if (!r.constraint) return Automaton();
  auto a = grammars_.get(r.constraint->grammar);
  if (!a.ok()) return invalid("'" + r.constraint->param + "' is not a usable grammar: " + a.error(), r.constraint->param);
  if (metrics_) metrics_->structured_requests_total.with({r.constraint->kind}).inc();
  return *a;
}

GenerationSpec GenerateHandler::spec_for(const ApiRequest& r, const Prompt& p, int sample,
                                         const Automaton& grammar) const {
  GenerationSpec spec;
  spec.grammar = grammar;
  spec.prompt = p.ids;
  const int64_t room = engine_.max_context_tokens() - static_cast<int64_t>(p.ids.size());
  const int64_t mt = r.max_tokens ? *r.max_tokens
                     : opt_.default_max_tokens > 0
                         ? std::min<int64_t>(opt_.default_max_tokens, room)
                         : room;
  spec.max_tokens = static_cast<int>(mt);
  spec.sampling = to_sampling_params(r.sampling);
  // n samples of one prompt with a seed: each its own seed, so they differ but repeat.
  if (r.sampling.seed) spec.sampling.seed = *r.sampling.seed + static_cast<uint64_t>(sample);
  spec.logprobs = r.logprobs;
  spec.top_logprobs = r.top_logprobs;
  return spec;
}

GenerateHandler::Step<std::vector<PendingChoice>> GenerateHandler::submit_choices(
    const ApiRequest& r, const std::vector<Prompt>& prompts, const Automaton& grammar) const {
  std::vector<PendingChoice> choices;
  int index = 0;
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    for (int i = 0; i < r.n; ++i, ++index) {
      auto sub = engine_.submit(spec_for(r, prompts[pi], i, grammar));
      if (auto* err = std::get_if<AdmitError>(&sub)) {
        cancel_unfinished(choices);
        return rejection_of(*err);
      }
      PendingChoice c;
      c.index = index;
      c.prompt_index = static_cast<int>(pi);
      c.ch = std::get<std::shared_ptr<RequestChannel>>(sub);
      c.prompt_tokens = static_cast<int>(prompts[pi].ids.size());
      if (r.echo && !r.chat) c.echo = prompts[pi].text;
      choices.push_back(std::move(c));
    }
  }
  return choices;
}

http::Response GenerateHandler::collect(const http::Request& req,
                                        std::vector<PendingChoice> choices,
                                        const ResponseContext& rc) const {
  if (auto rej = collect_choices(choices, std::chrono::milliseconds(20), req.client_gone))
    return reject(*rej, metrics_);
  std::vector<ChoiceResult> results;
  for (auto& c : choices)
    results.push_back({c.index, c.echo + c.text, std::move(c.tokens), *c.finish, c.prompt_tokens,
                       c.prompt_index, c.echo.size()});
  return http::Response::text(200, to_wire(build_response(rc, results, tok_)), "application/json");
}

http::Response GenerateHandler::stream(std::vector<PendingChoice> choices,
                                       const ResponseContext& rc, bool include_usage) const {
  auto st = std::make_shared<StreamState>();
  st->choices = std::move(choices);
  http::Response res;
  res.content_type = "text/event-stream";
  res.headers.set("Cache-Control", "no-cache");
  res.headers.set("X-Accel-Buffering", "no");
  const Tokenizer* tok = &tok_;
  EngineMetrics* metrics = metrics_;
  StreamRequest sr{rc, include_usage};
  res.stream = [st, sr, tok, metrics](http::StreamSink& sink) {
    SseWriter sse(sink);
    stream_choices(st->choices, sr, *tok, sse, metrics);
  };
  return res;
}

}  // namespace turbine
