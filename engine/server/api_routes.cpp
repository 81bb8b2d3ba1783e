#include "engine/server/api_routes.h"

#include <nlohmann/json.hpp>

#include "base/metrics/registry.h"
#include "engine/server/openai_response.h"
#include "engine/server/rejection.h"

namespace turbine {

using json = nlohmann::json;

namespace {

http::Response json_response(const json& j, int status = 200) {
  return http::Response::text(status, to_wire(j), "application/json");
}

}  // namespace

ApiRoutes::ApiRoutes(Engine& engine, const Tokenizer& tok, ApiOptions opt, EngineMetrics* metrics,
                     const std::atomic<bool>& draining)
    : engine_(engine), tok_(tok), opt_(std::move(opt)), metrics_(metrics), draining_(draining) {
  auto ct = ChatTemplate::detect(tok.vocab().chat_template);
  if (ct) {
    chat_template_ = std::move(*ct);
  } else {
    chat_template_error_ = ct.error();
  }
  generate_.emplace(engine_, tok_, chat_template_ ? &*chat_template_ : nullptr,
                    chat_template_error_, opt_, metrics_);
}

http::Response ApiRoutes::error_page(int status, const http::Request&) {
  if (status == 405)
    return error_response(
        {405, "Method not allowed.", "invalid_request_error", std::nullopt, std::nullopt});
  return error_response({404, "Not found.", "invalid_request_error", std::nullopt, "not_found"});
}

std::optional<Rejection> ApiRoutes::gate(const http::Request& req) const {
  if (draining_.load())
    return Rejection{
        ApiError::unavailable("The server is shutting down; retry on another replica."),
        RejectReason::kDraining};
  if (!opt_.api_keys.authorize(req.headers.get("Authorization")))
    return Rejection{ApiError::unauthorized(), std::nullopt};
  return std::nullopt;
}

std::optional<Rejection> ApiRoutes::require_json(const http::Request& req) {
  std::string_view type = req.headers.get("Content-Type");
  type = type.substr(0, type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  if (http::iequals(type, "application/json")) return std::nullopt;
  std::string got = "none";
  if (!type.empty()) {
    got = quote_input(type, 64);
    got.insert(got.begin(), '\'');
    got.push_back('\'');
  }
  std::string message =
      "The request body must be JSON sent with 'Content-Type: application/json' (got ";
  message += got;
  message += ").";
  return Rejection{
      {415, std::move(message), "invalid_request_error", std::nullopt, "unsupported_media_type"},
      RejectReason::kInvalid};
}

void ApiRoutes::add_probe_routes(http::Router& router, bool api_port) const {
  const bool keyed = api_port && opt_.metrics_auth;
  const auto authorized = [this, keyed](const http::Request& req) {
    return !keyed || opt_.api_keys.authorize(req.headers.get("Authorization"));
  };
  router.get("/health", [this](const http::Request&) { return health(); });
  router.get("/ready", [this](const http::Request&) { return ready(); });
  router.get("/load", [this, authorized](const http::Request& req) {
    if (!authorized(req)) return error_response(ApiError::unauthorized());
    return load();
  });
  router.get("/metrics", [authorized](const http::Request& req) {
    if (!authorized(req)) return error_response(ApiError::unauthorized());
    return http::Response::text(200, metrics::default_registry().expose(), metrics::kContentType);
  });
}

void ApiRoutes::add_api_routes(http::Router& router) const {
  router.get("/v1/models", [this](const http::Request& req) { return models(req); });
  for (bool chat : {true, false})
    router.post(chat ? "/v1/chat/completions" : "/v1/completions",
                [this, chat](const http::Request& req) {
                  if (auto rej = gate(req)) return reject(*rej, metrics_);
                  if (auto rej = require_json(req)) return reject(*rej, metrics_);
                  return generate_->handle(req, chat);
                });
  router.post("/tokenize", [this](const http::Request& req) { return tokenize(req); });
  router.post("/detokenize", [this](const http::Request& req) { return detokenize(req); });
}

http::Response ApiRoutes::health() const {
  const bool ok = engine_.alive(std::chrono::seconds(30));
  return json_response({{"status", ok ? "ok" : "stalled"}}, ok ? 200 : 503);
}

http::Response ApiRoutes::ready() const {
  if (draining_.load()) return json_response({{"status", "draining"}}, 503);
  return json_response({{"status", "ready"}, {"model", opt_.model_id}});
}

http::Response ApiRoutes::load() const {
  const LoadSnapshot l = engine_.load();
  return json_response({{"waiting", l.waiting},
                        {"running", l.running},
                        {"kv_cache_usage", l.kv_usage},
                        {"free_blocks", l.free_blocks},
                        {"total_blocks", l.total_blocks},
                        {"block_size", l.block_size},
                        {"admission_headroom_tokens", l.headroom_tokens},
                        {"draining", draining_.load()}});
}

http::Response ApiRoutes::models(const http::Request& req) const {
  if (!opt_.api_keys.authorize(req.headers.get("Authorization")))
    return error_response(ApiError::unauthorized());
  return json_response(
      {{"object", "list"},
       {"data", json::array({{{"id", opt_.model_id},
                              {"object", "model"},
                              {"created", 0},
                              {"owned_by", "turbine"},
                              {"max_model_len", engine_.max_context_tokens()},
                              {"architecture", opt_.model_arch}}})}});
}

http::Response ApiRoutes::tokenize(const http::Request& req) const {
  if (auto rej = gate(req)) return error_response(rej->error);
  if (auto rej = require_json(req)) return error_response(rej->error);
  auto parsed = parse_tokenize_request(req.body);
  if (auto* e = std::get_if<ApiError>(&parsed)) return error_response(*e);
  const TokenizeRequest& t = std::get<TokenizeRequest>(parsed);
  std::string text;
  if (t.prompt) {
    text = *t.prompt;
  } else {
    if (!chat_template_) return error_response(ApiError::invalid(chat_template_error_));
    std::vector<ChatMessage> msgs;
    for (const auto& m : t.messages) msgs.push_back({m.role, m.content});
    text = chat_template_->render(msgs, t.add_generation_prompt);
  }
  // Special-token text is parsed in a rendered chat (the template writes <|im_start|>), not
  // in a user's prompt.
  const auto ids = tok_.encode(text, t.add_special_tokens, /*parse_special=*/!t.prompt.has_value());
  return json_response(
      {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", engine_.max_context_tokens()}});
}

http::Response ApiRoutes::detokenize(const http::Request& req) const {
  if (auto rej = gate(req)) return error_response(rej->error);
  if (auto rej = require_json(req)) return error_response(rej->error);
  auto parsed = parse_detokenize_request(req.body, tok_.n_vocab());
  if (auto* e = std::get_if<ApiError>(&parsed)) return error_response(*e);
  return json_response({{"prompt", tok_.decode(std::get<std::vector<int32_t>>(parsed))}});
}

}  // namespace turbine
