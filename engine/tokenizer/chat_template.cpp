#include "engine/tokenizer/chat_template.h"

#include <cctype>

namespace turbine {
namespace {

bool contains(std::string_view s, std::string_view what) {
  return s.find(what) != std::string_view::npos;
}

// Strips ASCII whitespace at both ends (llama.cpp's trim uses isspace).
std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Reads the Jinja string literal starting at s[pos] (a quote); handles the usual escapes.
bool read_literal(std::string_view s, size_t pos, std::string* out) {
  if (pos >= s.size() || (s[pos] != '\'' && s[pos] != '"')) return false;
  const char q = s[pos];
  out->clear();
  for (size_t i = pos + 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == q) return true;
    if (c == '\\' && i + 1 < s.size()) {
      char n = s[++i];
      out->push_back(n == 'n' ? '\n' : n == 't' ? '\t' : n == 'r' ? '\r' : n);
      continue;
    }
    out->push_back(c);
  }
  return false;
}

// The default system message of a ChatML template: the literal printed under a condition
// on the first message not being a system message, e.g. SmolLM2's
//   {% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n...<|im_end|>\n'
//   }}
std::string chatml_default_system(std::string_view src) {
  static constexpr std::string_view kOpen = "<|im_start|>system\n", kClose = "<|im_end|>\n";
  for (std::string_view cond : {"['role'] != 'system'", "['role'] != \"system\"",
                                ".role != 'system'", ".role != \"system\""}) {
    size_t at = src.find(cond);
    if (at == std::string_view::npos) continue;
    size_t expr = src.find("{{", at);
    size_t endif = src.find("{%", at + cond.size());
    if (expr == std::string_view::npos || (endif != std::string_view::npos && endif < expr))
      continue;
    size_t q = src.find_first_not_of(" -", expr + 2);
    std::string lit;
    if (q == std::string_view::npos || !read_literal(src, q, &lit)) continue;
    if (lit.size() >= kOpen.size() + kClose.size() && lit.compare(0, kOpen.size(), kOpen) == 0 &&
        lit.compare(lit.size() - kClose.size(), kClose.size(), kClose) == 0)
      return lit.substr(kOpen.size(), lit.size() - kOpen.size() - kClose.size());
  }
  return "";
}

}  // namespace

Result<ChatTemplate> ChatTemplate::detect(std::string_view src, ChatTemplateOptions opts) {
  ChatTemplate t;
  t.use_default_system_ = opts.use_default_system;
  if (src.empty() || src == "chatml") {
    t.format_ = ChatFormat::kChatMl;
  } else if (src == "llama2") {
    t.format_ = ChatFormat::kLlama2;
  } else if (src == "llama3") {
    t.format_ = ChatFormat::kLlama3;
  } else if (src == "gemma" || contains(src, "<start_of_turn>")) {
    t.format_ = ChatFormat::kGemma;
  } else if (contains(src, "<|im_start|>") && !contains(src, "<|im_sep|>") &&
             !contains(src, "<end_of_utterance>")) {
    t.format_ = ChatFormat::kChatMl;
    t.default_system_ = chatml_default_system(src);
  } else if (contains(src, "[INST]") && src.rfind("mistral", 0) != 0 &&
             !contains(src, "[SYSTEM_PROMPT]") && !contains(src, "' [INST] ' + system_message") &&
             !contains(src, "[AVAILABLE_TOOLS]")) {
    // The variants llama.cpp tells apart.
    if (contains(src, "content.strip()")) {
      t.format_ = ChatFormat::kLlama2SysStrip;
    } else if (contains(src, "bos_token + '[INST]")) {
      t.format_ = ChatFormat::kLlama2SysBos;
    } else if (contains(src, "<<SYS>>")) {
      t.format_ = ChatFormat::kLlama2Sys;
    } else {
      t.format_ = ChatFormat::kLlama2;
    }
  } else if (contains(src, "<|start_header_id|>") && contains(src, "<|end_header_id|>")) {
    t.format_ = ChatFormat::kLlama3;
  } else {
    std::string head(src.substr(0, 60));
    for (char& c : head)
      if (c == '\n' || c == '\r') c = ' ';
    return Error{"unsupported chat template \"" + head + (src.size() > 60 ? "...\"" : "\"") +
                 ": only ChatML, Llama-2, Llama-3 and Gemma templates are supported for now"};
  }
  return t;
}

const char* ChatTemplate::name() const {
  switch (format_) {
    case ChatFormat::kChatMl:
      return "chatml";
    case ChatFormat::kLlama2:
      return "llama2";
    case ChatFormat::kLlama2Sys:
      return "llama2-sys";
    case ChatFormat::kLlama2SysBos:
      return "llama2-sys-bos";
    case ChatFormat::kLlama2SysStrip:
      return "llama2-sys-strip";
    case ChatFormat::kLlama3:
      return "llama3";
    case ChatFormat::kGemma:
      return "gemma";
  }
  return "?";
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& msgs,
                                 bool add_generation_prompt) const {
  std::string out;
  switch (format_) {
    case ChatFormat::kChatMl: {
      if (use_default_system_ && !default_system_.empty() && !msgs.empty() &&
          msgs[0].role != "system")
        out += "<|im_start|>system\n" + default_system_ + "<|im_end|>\n";
      for (const ChatMessage& m : msgs)
        out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
      if (add_generation_prompt) out += "<|im_start|>assistant\n";
      break;
    }
    case ChatFormat::kLlama3: {
      for (const ChatMessage& m : msgs)
        out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + trim(m.content) +
               "<|eot_id|>";
      if (add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
      break;
    }
    case ChatFormat::kGemma: {
      // Gemma's template (and llama.cpp's built-in one): no system role, so a system message
      // opens the next user turn; the assistant is "model"; contents are trimmed. BOS is the
      // tokenizer's business, as above.
      std::string system;
      for (const ChatMessage& m : msgs) {
        if (m.role == "system") {
          system = trim(m.content);
          continue;
        }
        const std::string role = m.role == "assistant" ? "model" : m.role;
        out += "<start_of_turn>" + role + "\n";
        if (!system.empty() && role != "model") {
          out += system + "\n\n";
          system.clear();
        }
        out += trim(m.content) + "<end_of_turn>\n";
      }
      if (add_generation_prompt) out += "<start_of_turn>model\n";
      break;
    }
    case ChatFormat::kLlama2:
    case ChatFormat::kLlama2Sys:
    case ChatFormat::kLlama2SysBos:
    case ChatFormat::kLlama2SysStrip: {
      // As llama.cpp: BOS is the tokenizer's business, so the first turn opens without <s>.
      const bool system_block = format_ != ChatFormat::kLlama2;
      const bool bos_inside = format_ == ChatFormat::kLlama2SysBos;
      const bool strip = format_ == ChatFormat::kLlama2SysStrip;
      bool inside_turn = true;
      out += "[INST] ";
      for (const ChatMessage& m : msgs) {
        std::string content = strip ? trim(m.content) : m.content;
        if (!inside_turn) {
          inside_turn = true;
          out += bos_inside ? "<s>[INST] " : "[INST] ";
        }
        if (m.role == "system") {
          out += system_block ? "<<SYS>>\n" + content + "\n<</SYS>>\n\n" : content + "\n";
        } else if (m.role == "user") {
          out += content + " [/INST]";
        } else {
          out += content + "</s>";
          inside_turn = false;
        }
      }
      break;
    }
  }
  return out;
}

}  // namespace turbine
