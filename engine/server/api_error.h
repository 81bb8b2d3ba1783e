// An HTTP API error in OpenAI's shape: {"error":{"message","type","param","code"}}.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace turbine {

// `s` for an error message that quotes client input: at most `max_bytes` of it (cut at a
// UTF-8 boundary), then how much was left out, so a kilobyte-long field is not echoed back.
std::string quote_input(std::string_view s, size_t max_bytes = 200);

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::optional<std::string> param;
  std::optional<std::string> code;

  std::string to_json() const;

  static ApiError invalid(std::string msg, std::optional<std::string> param = std::nullopt) {
    return {400, std::move(msg), "invalid_request_error", std::move(param), std::nullopt};
  }
  static ApiError unauthorized() {
    return {401, "Incorrect or missing API key. Pass it as 'Authorization: Bearer <key>'.",
            "authentication_error", std::nullopt, "invalid_api_key"};
  }
  static ApiError model_not_found(const std::string& model) {
    return {404, "The model '" + quote_input(model) + "' does not exist; GET /v1/models lists the served model.",
            "invalid_request_error", "model", "model_not_found"};
  }
  static ApiError too_large(std::string msg, std::optional<std::string> param = std::nullopt) {
    return {413, std::move(msg), "invalid_request_error", std::move(param), "request_too_large"};
  }
  static ApiError queue_full() {
    return {429, "The server is at capacity (request queue full); retry after the Retry-After delay.",
            "rate_limit_error", std::nullopt, "queue_full"};
  }
  static ApiError unavailable(std::string msg) {
    return {503, std::move(msg), "service_unavailable", std::nullopt, "unavailable"};
  }
  static ApiError internal(std::string msg) {
    return {500, std::move(msg), "internal_error", std::nullopt, std::nullopt};
  }
};

}  // namespace turbine
