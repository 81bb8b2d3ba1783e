// libFuzzer entry point for the OpenAI request parsers: any body must parse or be refused
// with a 400-class error naming what is wrong, never crash, hang or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/server/openai_request.h"

namespace {

void check(const turbine::ApiError& e) {
  if (e.message.empty() || e.status < 400 || e.status >= 500) __builtin_trap();
  if (e.message.size() > 2000) __builtin_trap();  // no client input echoed at length
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  turbine::RequestLimits lim;
  for (bool chat : {true, false}) {
    auto r = chat ? turbine::parse_chat_request(body, lim)
                  : turbine::parse_completion_request(body, lim);
    if (auto* e = std::get_if<turbine::ApiError>(&r)) {
      check(*e);
    } else {
      const auto& req = std::get<turbine::ApiRequest>(r);
      if (req.n < 1 || req.n > lim.max_n) __builtin_trap();
      if (static_cast<int>(req.sampling.stop.size()) > lim.max_stop) __builtin_trap();
    }
  }
  if (auto t = turbine::parse_tokenize_request(body); std::holds_alternative<turbine::ApiError>(t))
    check(std::get<turbine::ApiError>(t));
  if (auto d = turbine::parse_detokenize_request(body, 49152);
      std::holds_alternative<turbine::ApiError>(d))
    check(std::get<turbine::ApiError>(d));
  return 0;
}
