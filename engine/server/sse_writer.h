// Server-sent events framing for the streaming API: each payload is one `data: ...` event
// followed by a blank line, the stream ends with `data: [DONE]` as OpenAI's does. One event
// is one write to the sink, so a client sees each token as soon as it is produced.
#pragma once
#include <string_view>

#include "base/http/message.h"

namespace turbine {

class SseWriter {
 public:
  explicit SseWriter(http::StreamSink& sink) : sink_(sink) {}

  // Sends `data: <payload>\n\n`; false (and every later call false) once the client is gone.
  bool event(std::string_view payload);
  // Sends `data: [DONE]\n\n`.
  bool done() { return event("[DONE]"); }
  // True once a write failed or the client closed the connection.
  bool client_gone();

 private:
  http::StreamSink& sink_;
  bool failed_ = false;
};

}  // namespace turbine
