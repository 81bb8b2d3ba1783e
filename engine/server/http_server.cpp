#include "engine/server/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "base/log.h"
#include "engine/metrics/engine_metrics.h"
#include "engine/server/openai_response.h"
#include "engine/server/pending_choice.h"
#include "engine/tokenizer/chat_template.h"

namespace turbine {

using json = nlohmann::json;

namespace {

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 429) res.set_header("Retry-After", "1");
  res.set_content(e.to_json(), "application/json");
}

void send_json(httplib::Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

std::string random_id(const char* prefix) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s = prefix;
  for (int i = 0; i < 24; ++i) s += kHex[rng() & 15];
  return s;
}

}  // namespace

struct HttpServer::Impl {
  Engine& engine;
  const Tokenizer& tok;
  ServerOptions opt;
  EngineMetrics* metrics;
  httplib::Server http;
  std::optional<ChatTemplate> chat_template;
  std::string chat_template_error;
  std::atomic<int> port{0};
  std::atomic<bool>* draining = nullptr;
  std::atomic<int> active_http{0};

  Impl(Engine& e, const Tokenizer& t, ServerOptions o, EngineMetrics* m)
      : engine(e), tok(t), opt(std::move(o)), metrics(m) {
    auto ct = ChatTemplate::detect(tok.vocab().chat_template);
    if (ct) {
      chat_template = std::move(*ct);
    } else {
      chat_template_error = ct.error();
    }
  }

  // Returns an error when a request may not proceed: auth, draining.
  std::optional<ApiError> gate(const httplib::Request& req) const {
    if (draining->load()) return ApiError::unavailable("The server is shutting down; retry on another replica.");
    if (!opt.api_keys.authorize(req.get_header_value("Authorization"))) return ApiError::unauthorized();
    return std::nullopt;
  }

  void install_routes();
  void handle_generate(const httplib::Request& req, httplib::Response& res, bool chat);
};

void HttpServer::Impl::handle_generate(const httplib::Request& req, httplib::Response& res,
                                       bool chat) {
  if (auto e = gate(req)) {
    if (metrics && e->status == 503) metrics->requests_rejected_total.with({"draining"}).inc();
    return send_error(res, *e);
  }
  auto parsed = chat ? parse_chat_request(req.body, opt.limits) : parse_completion_request(req.body, opt.limits);
  if (auto* e = std::get_if<ApiError>(&parsed)) {
    if (metrics) metrics->requests_rejected_total.with({"invalid"}).inc();
    return send_error(res, *e);
  }
  ApiRequest r = std::move(std::get<ApiRequest>(parsed));
  if (r.model != opt.model_id) return send_error(res, ApiError::model_not_found(r.model));

  // Prompts as token ids (and, for echo, as text).
  std::vector<std::vector<int32_t>> prompts;
  std::vector<std::string> prompt_texts;
  if (chat) {
    if (!chat_template)
      return send_error(res, ApiError::invalid("This model's chat template is not supported (" +
                                               chat_template_error + "); use /v1/completions."));
    std::vector<ChatMessage> msgs;
    for (const auto& m : r.messages) msgs.push_back({m.role, m.content});
    std::string text = chat_template->render(msgs, /*add_generation_prompt=*/true);
    prompts.push_back(tok.encode(text, /*add_special=*/true, /*parse_special=*/true));
    prompt_texts.push_back(std::move(text));
  } else {
    for (const auto& p : r.prompts) {
      if (auto* s = std::get_if<std::string>(&p)) {
        prompts.push_back(tok.encode(*s, /*add_special=*/true, /*parse_special=*/false));
        prompt_texts.push_back(*s);
      } else {
        const auto& ids = std::get<std::vector<int32_t>>(p);
        for (int32_t id : ids)
          if (id >= tok.n_vocab())
            return send_error(res, ApiError::invalid("prompt token id " + std::to_string(id) +
                                                     " is outside the vocabulary", "prompt"));
        prompts.push_back(ids);
        prompt_texts.push_back(r.echo ? tok.decode(ids) : std::string());
      }
    }
  }
  const int64_t ctx = engine.max_context_tokens();
  const int64_t prompt_limit = prompt_token_limit(opt.max_prompt_tokens, ctx);
  for (const auto& p : prompts) {
    if (p.empty()) return send_error(res, ApiError::invalid("The prompt is empty.", chat ? "messages" : "prompt"));
    if (static_cast<int64_t>(p.size()) > prompt_limit) {
      if (metrics) metrics->requests_rejected_total.with({"too_long"}).inc();
      return send_error(res, ApiError::too_large(
          "The prompt has " + std::to_string(p.size()) + " tokens; this server accepts at most " +
          std::to_string(prompt_limit) + ".", chat ? "messages" : "prompt"));
    }
  }

  // Submit every (prompt, n) pair as its own sequence.
  std::vector<PendingChoice> choices;
  auto cancel_all = [&] {
    for (auto& c : choices) c.ch->cancel();
  };
  int index = 0;
  for (size_t pi = 0; pi < prompts.size(); ++pi) {
    const auto& p = prompts[pi];
    for (int i = 0; i < r.n; ++i, ++index) {
      GenerationSpec spec;
      spec.prompt = p;
      int64_t room = ctx - static_cast<int64_t>(p.size());
      int64_t mt = r.max_tokens ? *r.max_tokens
                                : (opt.default_max_tokens > 0 ? std::min<int64_t>(opt.default_max_tokens, room) : room);
      spec.max_tokens = static_cast<int>(mt);
      spec.sampling = to_sampling_params(r.sampling);
      if (r.sampling.seed) spec.sampling.seed = *r.sampling.seed + static_cast<uint64_t>(i);
      spec.logprobs = r.logprobs;
      spec.top_logprobs = r.top_logprobs;
      auto sub = engine.submit(std::move(spec));
      if (auto* rej = std::get_if<Rejection>(&sub)) {
        cancel_all();
        switch (rej->kind) {
          case AdmissionError::kQueueFull:
            if (metrics) metrics->requests_rejected_total.with({"queue_full"}).inc();
            return send_error(res, ApiError::queue_full());
          case AdmissionError::kDraining:
            return send_error(res, ApiError::unavailable(rej->message));
          case AdmissionError::kNeverFits:
            if (metrics) metrics->requests_rejected_total.with({"too_long"}).inc();
            return send_error(res, ApiError::invalid(rej->message, "max_tokens"));
        }
      }
      PendingChoice c;
      c.index = index;
      c.prompt_index = static_cast<int>(pi);
      c.ch = std::get<std::shared_ptr<RequestChannel>>(sub);
      c.prompt_tokens = static_cast<int>(p.size());
      if (r.echo && !chat) c.echo = prompt_texts[pi];
      choices.push_back(std::move(c));
    }
  }

  const std::string id = random_id(chat ? "chatcmpl-" : "cmpl-");
  const int64_t created = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch()).count();
  ResponseContext rc{id, created, opt.model_id, chat, r.logprobs, r.top_logprobs > 0 || r.logprobs,
                     r.stream && r.include_usage};

  if (!r.stream) {
    if (auto err = collect_choices(choices)) {
      if (err->status == 429 && metrics) metrics->requests_rejected_total.with({"queue_full"}).inc();
      return send_error(res, *err);
    }
    std::vector<ChoiceResult> results;
    for (auto& c : choices) {
      ChoiceResult cr{c.index, c.echo + c.text, std::move(c.tokens), *c.finish, c.prompt_tokens,
                      c.prompt_index, c.echo.size()};
      results.push_back(std::move(cr));
    }
    return send_json(res, build_response(rc, results, tok));
  }

  // Streaming: round-robin over the choices, one SSE event per token.
  struct StreamState {
    std::vector<PendingChoice> choices;
    ResponseContext rc;
    bool include_usage;
    bool sent_head = false;
  };
  auto st = std::make_shared<StreamState>();
  st->choices = std::move(choices);
  st->rc = rc;
  st->include_usage = r.include_usage;
  const Tokenizer* tk = &tok;
  EngineMetrics* em = metrics;
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider(
      "text/event-stream",
      [st, tk, em](size_t, httplib::DataSink& sink) {
        auto dump = [](const json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); };
        auto write = [&](const std::string& payload) {
          std::string frame = "data: " + payload + "\n\n";
          return sink.write(frame.data(), frame.size());
        };
        auto abort = [&] {
          for (auto& x : st->choices) x.ch->cancel();
          return false;
        };
        if (!st->sent_head) {
          st->sent_head = true;
          for (auto& c : st->choices) {
            if (st->rc.chat && !write(dump(build_role_chunk(st->rc, c.index)))) return abort();
            // echo: the prompt comes first, as its own chunk.
            if (!c.echo.empty()) {
              if (!write(dump(build_text_chunk(st->rc, c.index, c.echo)))) return abort();
              c.text_offset = c.echo.size();
            }
          }
        }
        bool all_done = true, progressed = false;
        for (auto& c : st->choices) {
          if (c.finish) continue;
          all_done = false;
          // Drain what is ready without blocking long: the loop produces tokens in steps.
          for (int k = 0; k < 64 && !c.finish; ++k) {
            auto ev = c.ch->next(progressed ? std::chrono::milliseconds(0) : std::chrono::milliseconds(20));
            if (!ev) break;
            progressed = true;
            if (ev->token) {
              // A token whose text is held back (it may begin a stop string, or ends inside
              // a UTF-8 character) has nothing to say unless its logprobs were asked for.
              if (!ev->token->text.empty() || st->rc.logprobs) {
                if (!write(dump(build_token_chunk(st->rc, c.index, *ev->token, *tk, c.text_offset)))) return abort();
                c.text_offset += ev->token->text.size();
              }
            }
            if (ev->finish) {
              c.finish = std::move(*ev->finish);
              if (c.finish->reason == "error") {
                // Headers are gone; report the failure in OpenAI's error shape (the openai
                // client raises it) and stop the other choices.
                ApiError err = finish_error(*c.finish);
                if (em && err.status == 429) em->requests_rejected_total.with({"queue_full"}).inc();
                for (auto& x : st->choices) x.ch->cancel();
                write(err.to_json());
                std::string end = "data: [DONE]\n\n";
                sink.write(end.data(), end.size());
                sink.done();
                return true;
              }
              if (!write(dump(build_finish_chunk(st->rc, c.index, *c.finish)))) return abort();
            }
          }
        }
        if (all_done) {
          if (st->include_usage) {
            std::vector<ChoiceUsage> us;
            for (const auto& c : st->choices)
              us.push_back({c.prompt_index, c.finish->prompt_tokens ? c.finish->prompt_tokens : c.prompt_tokens,
                            c.finish->completion_tokens, c.finish->cached_tokens});
            const UsageCounts u = sum_usage(us);
            if (!write(dump(build_usage_chunk(st->rc, u.prompt, u.completion, u.cached)))) return false;
          }
          std::string end = "data: [DONE]\n\n";
          sink.write(end.data(), end.size());
          sink.done();
          return true;
        }
        if (!sink.is_writable()) return abort();
        return true;
      },
      [st](bool success) {
        if (!success)
          for (auto& c : st->choices) c.ch->cancel();
      });
}

void HttpServer::Impl::install_routes() {
  http.set_payload_max_length(opt.max_body_bytes);
  http.set_error_handler([this](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413)
      return send_error(res, ApiError::too_large("The request body exceeds " +
                                                 std::to_string(opt.max_body_bytes) + " bytes."));
    if (res.status == 404)
      return send_error(res, {404, "Not found.", "invalid_request_error", std::nullopt, "not_found"});
    if (res.status == 405)
      return send_error(res, {405, "Method not allowed.", "invalid_request_error", std::nullopt, std::nullopt});
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log::error("handler exception", {{"what", what}});
    send_error(res, ApiError::internal("internal error: " + what));
  });
  http.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    log::debug("http", {{"method", req.method}, {"path", req.path}, {"status", std::to_string(res.status)}});
  });

  http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = engine.alive(std::chrono::seconds(30));
    send_json(res, {{"status", ok ? "ok" : "stalled"}}, ok ? 200 : 503);
  });
  http.Get("/ready", [this](const httplib::Request&, httplib::Response& res) {
    if (draining->load()) return send_json(res, {{"status", "draining"}}, 503);
    send_json(res, {{"status", "ready"}, {"model", opt.model_id}});
  });
  http.Get("/load", [this](const httplib::Request&, httplib::Response& res) {
    LoadSnapshot l = engine.load();
    send_json(res, {{"waiting", l.waiting},
                    {"running", l.running},
                    {"kv_cache_usage", l.kv_usage},
                    {"free_blocks", l.free_blocks},
                    {"total_blocks", l.total_blocks},
                    {"block_size", l.block_size},
                    {"admission_headroom_tokens", l.headroom_tokens},
                    {"draining", draining->load()}});
  });
  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics::default_registry().expose(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!opt.api_keys.authorize(req.get_header_value("Authorization")))
      return send_error(res, ApiError::unauthorized());
    send_json(res, {{"object", "list"},
                    {"data", json::array({{{"id", opt.model_id},
                                           {"object", "model"},
                                           {"created", 0},
                                           {"owned_by", "turbine"},
                                           {"max_model_len", engine.max_context_tokens()}}})}});
  });
  http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generate(req, res, true);
  });
  http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generate(req, res, false);
  });
  http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto e = gate(req)) return send_error(res, *e);
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return send_error(res, ApiError::invalid("The request body is not a JSON object."));
    bool add_special = j.value("add_special_tokens", true);
    std::string text;
    if (j.contains("prompt") && j["prompt"].is_string()) {
      text = j["prompt"].get<std::string>();
    } else if (j.contains("messages")) {
      auto parsed = parse_chat_request(json{{"model", opt.model_id}, {"messages", j["messages"]}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      if (auto* e = std::get_if<ApiError>(&parsed)) return send_error(res, *e);
      if (!chat_template) return send_error(res, ApiError::invalid(chat_template_error));
      std::vector<ChatMessage> msgs;
      for (const auto& m : std::get<ApiRequest>(parsed).messages) msgs.push_back({m.role, m.content});
      text = chat_template->render(msgs, j.value("add_generation_prompt", true));
    } else {
      return send_error(res, ApiError::invalid("'prompt' (string) or 'messages' is required", "prompt"));
    }
    auto ids = tok.encode(text, add_special, /*parse_special=*/j.contains("messages"));
    send_json(res, {{"tokens", ids}, {"count", ids.size()}, {"max_model_len", engine.max_context_tokens()}});
  });
  http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    if (auto e = gate(req)) return send_error(res, *e);
    json j = json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("tokens") || !j["tokens"].is_array())
      return send_error(res, ApiError::invalid("'tokens' (an array of token ids) is required", "tokens"));
    std::vector<int32_t> ids;
    for (const auto& t : j["tokens"]) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok.n_vocab())
        return send_error(res, ApiError::invalid("token ids must be integers in [0, " +
                                                 std::to_string(tok.n_vocab()) + ")", "tokens"));
      ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
    }
    send_json(res, {{"prompt", tok.decode(ids)}});
  });
}

HttpServer::HttpServer(Engine& engine, const Tokenizer& tokenizer, ServerOptions opt,
                       EngineMetrics* metrics)
    : impl_(std::make_unique<Impl>(engine, tokenizer, std::move(opt), metrics)) {
  impl_->draining = &draining_;
  impl_->http.new_task_queue = [n = impl_->opt.http_threads] { return new httplib::ThreadPool(n); };
  impl_->install_routes();
}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::listen() {
  auto& o = impl_->opt;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
    if (port <= 0) return false;
  } else if (!impl_->http.bind_to_port(o.host, port)) {
    log::error("cannot listen", {{"host", o.host}, {"port", std::to_string(port)}});
    return false;
  }
  impl_->port = port;
  log::info("listening", {{"host", o.host}, {"port", std::to_string(port)}, {"model", o.model_id}});
  return impl_->http.listen_after_bind();
}

int HttpServer::bound_port() const { return impl_->port.load(); }

void HttpServer::drain_and_stop() {
  draining_ = true;
  log::info("draining", {{"in_flight", std::to_string(impl_->engine.in_flight())}});
  auto deadline = std::chrono::steady_clock::now() + impl_->opt.drain_timeout;
  while (impl_->engine.in_flight() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const int left = impl_->engine.in_flight();
  if (left > 0) {
    // Out of time: end what is still running so its handlers return (with an error) rather
    // than hold the listener's worker threads until their own deadlines.
    log::warn("drain timeout reached; ending in-flight requests", {{"in_flight", std::to_string(left)}});
    impl_->engine.stop();
  }
  // Let the handlers write their last bytes.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  log::info("drained", {{"in_flight", std::to_string(impl_->engine.in_flight())}});
  stop();
}

void HttpServer::stop() {
  if (impl_ && impl_->http.is_running()) impl_->http.stop();
}

}  // namespace turbine
