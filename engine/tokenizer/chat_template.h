// Chat templates: the model's Jinja template is recognised by its markers (as llama.cpp's
// llm_chat_detect_template does) and rendered by hand-written code, not a Jinja engine.
// Supported: ChatML (<|im_start|>, e.g. SmolLM2), Llama-2 [INST] and Llama-3 headers.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace turbine {

struct ChatMessage {
  std::string role;  // "system", "user", "assistant", ...
  std::string content;
};

enum class ChatFormat { kChatMl, kLlama2, kLlama2Sys, kLlama2SysBos, kLlama2SysStrip, kLlama3, kGemma };

struct ChatTemplateOptions {
  // ChatML templates may insert a default system message when the conversation has none
  // (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face").
  // true renders what the Jinja template renders (transformers' apply_chat_template,
  // llama-server --jinja); false renders what llama.cpp's built-in llama_chat_apply_template
  // renders, which leaves that message out.
  bool use_default_system = true;
};

class ChatTemplate {
 public:
  // Recognises `jinja_source` (tokenizer.chat_template), or a built-in name ("chatml",
  // "llama2", "llama3"). An empty source means ChatML, llama.cpp's fallback. Anything else is
  // an error naming the start of the template.
  static Result<ChatTemplate> detect(std::string_view jinja_source, ChatTemplateOptions opts = {});

  // The prompt text; with add_generation_prompt, ends with the assistant's turn opened
  // (Llama-2 has no such marker: a prompt ends after [/INST] either way).
  std::string render(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) const;

  ChatFormat format() const { return format_; }
  // The template's default system message ("" if it has none).
  const std::string& default_system() const { return default_system_; }
  const char* name() const;

 private:
  ChatFormat format_ = ChatFormat::kChatMl;
  std::string default_system_;
  bool use_default_system_ = true;
};

}  // namespace turbine
