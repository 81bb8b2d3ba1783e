#include "engine/server/sse_writer.h"

#include <string>

namespace turbine {

bool SseWriter::event(std::string_view payload) {
  if (failed_) return false;
  std::string frame;
  frame.reserve(payload.size() + 8);
  frame += "data: ";
  frame += payload;
  frame += "\n\n";
  failed_ = !sink_.write(frame);
  return !failed_;
}

bool SseWriter::client_gone() {
  if (!failed_ && sink_.client_gone()) failed_ = true;
  return failed_;
}

}  // namespace turbine
