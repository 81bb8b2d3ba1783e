// The per-request token channel between the engine loop (producer) and an HTTP handler
// (consumer). The loop never blocks on it; a handler waits for the next event with a
// timeout so it can notice a disconnected client and cancel.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/runtime/finish_reason.h"

namespace turbine {

struct TokenLogprob {
  int32_t token = -1;
  float logprob = 0.f;
  std::string text;
};

struct TokenEvent {
  int32_t token = -1;
  std::string text;  // complete UTF-8 text released by this token (may be empty)
  float logprob = 0.f;
  std::vector<TokenLogprob> top;  // when top logprobs were requested
};

struct FinishEvent {
  FinishReason reason = FinishReason::kStop;
  int prompt_tokens = 0;
  int completion_tokens = 0;
  int cached_tokens = 0;
  std::string error;   // when reason is kError
  // With reason kError: the scheduler's queue was full when the request reached it (a
  // race past submit()'s check); the client may retry (HTTP 429), nothing failed.
  bool queue_full = false;
  // Text released only at the end: a tail held back in case it began a stop string, or
  // bytes of an unfinished UTF-8 character. Belongs after the last token's text.
  std::string text;
};

struct ChannelEvent {
  std::optional<TokenEvent> token;
  std::optional<FinishEvent> finish;
};

class RequestChannel {
 public:
  void push_token(TokenEvent e) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back({std::move(e), std::nullopt});
    }
    cv_.notify_one();
  }
  void finish(FinishEvent f) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back({std::nullopt, std::move(f)});
    }
    cv_.notify_one();
  }
  // Waits up to `timeout` for the next event; nullopt on timeout.
  std::optional<ChannelEvent> next(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> l(mu_);
    if (!cv_.wait_for(l, timeout, [&] { return !q_.empty(); })) return std::nullopt;
    ChannelEvent e = std::move(q_.front());
    q_.pop_front();
    return e;
  }
  // Set by the consumer (client gone); the engine loop frees the sequence next step.
  void cancel() { cancelled_.store(true, std::memory_order_relaxed); }
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<ChannelEvent> q_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace turbine
