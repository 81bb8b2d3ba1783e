#include <gtest/gtest.h>

#include "engine/tokenizer/chat_template.h"

namespace turbine {
namespace {

// tokenizer.chat_template of SmolLM2-135M-Instruct.
const char kSmolLm2[] =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' "
    "}}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + "
    "'\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const std::string kDefaultSystem =
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n";

TEST(ChatTemplate, ChatMlWithoutSystemMessageGetsTheTemplatesDefault) {
  auto t = ChatTemplate::detect(kSmolLm2);
  ASSERT_TRUE(t.ok()) << t.error();
  EXPECT_EQ(t->format(), ChatFormat::kChatMl);
  EXPECT_EQ(t->render({{"user", "Hi!"}}, true),
            kDefaultSystem + "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t->render({{"user", "Hi!"}}, false),
            kDefaultSystem + "<|im_start|>user\nHi!<|im_end|>\n");
}

TEST(ChatTemplate, ChatMlWithSystemMessage) {
  auto t = ChatTemplate::detect(kSmolLm2);
  ASSERT_TRUE(t.ok());
  std::vector<ChatMessage> msgs = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello."}, {"user", "Bye"}};
  EXPECT_EQ(t->render(msgs, true),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>"
            "assistant\n");
}

TEST(ChatTemplate, LlamaCppBuiltinChatMlLeavesTheDefaultOut) {
  auto t = ChatTemplate::detect(kSmolLm2, {.use_default_system = false});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->render({{"user", "Hi!"}}, true),
            "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n");
  // A plain ChatML template has no default to insert.
  auto plain = ChatTemplate::detect(
      "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n' + m['content'] + "
      "'<|im_end|>\\n'}}{% endfor %}");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->default_system(), "");
  EXPECT_EQ(plain->render({{"user", "x"}}, false), "<|im_start|>user\nx<|im_end|>\n");
}

TEST(ChatTemplate, DefaultSystemWithEscapedNewlines) {
  // The same template with "\n" written as an escape inside the Jinja literal.
  auto t = ChatTemplate::detect(
      "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nBe nice.<|im_end|>\\n' "
      "}}{% endif %}"
      "<|im_start|>");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->default_system(), "Be nice.");
  EXPECT_EQ(t->render({}, true), "<|im_start|>assistant\n");  // no messages: nothing to prefix
}

// Gemma's turns: no system role (its text opens the first user turn), "model" for the
// assistant, trimmed contents; as Gemma-3's own template and llama.cpp's built-in render.
TEST(ChatTemplate, Gemma) {
  auto t = ChatTemplate::detect("{{ bos_token }}{% for m in messages %}<start_of_turn>...{% endfor %}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->format(), ChatFormat::kGemma);
  EXPECT_STREQ(t->name(), "gemma");
  EXPECT_EQ(ChatTemplate::detect("gemma")->format(), ChatFormat::kGemma);
  EXPECT_EQ(t->render({{"system", " Be brief. "}, {"user", "hi\n"}, {"assistant", "Hello!"}, {"user", "bye"}}, true),
            "<start_of_turn>user\nBe brief.\n\nhi<end_of_turn>\n"
            "<start_of_turn>model\nHello!<end_of_turn>\n"
            "<start_of_turn>user\nbye<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(t->render({{"user", "x"}}, false), "<start_of_turn>user\nx<end_of_turn>\n");
}

TEST(ChatTemplate, Llama3) {
  auto t = ChatTemplate::detect(
      "{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ "
      "m['content'] | trim }}"
      "<|eot_id|>{% endfor %}");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->format(), ChatFormat::kLlama3);
  EXPECT_EQ(t->render({{"system", " sys "}, {"user", "hi\n"}}, true),
            "<|start_header_id|>system<|end_header_id|>\n\nsys<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, Llama2WithSystemBlock) {
  auto t = ChatTemplate::detect(
      "{{ bos_token }}[INST] <<SYS>>\\n{{ system }}\\n<</SYS>>\\n\\n ... [/INST]");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->format(), ChatFormat::kLlama2Sys);
  EXPECT_EQ(t->render({{"system", "S"}, {"user", "U1"}, {"assistant", "A1"}, {"user", "U2"}}, true),
            "[INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST]A1</s>[INST] U2 [/INST]");
  auto plain = ChatTemplate::detect("[INST] {{ content }} [/INST]");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->format(), ChatFormat::kLlama2);
  EXPECT_EQ(plain->render({{"system", "S"}, {"user", "U"}}, true), "[INST] S\nU [/INST]");
}

TEST(ChatTemplate, EmptyAndNamedTemplates) {
  EXPECT_EQ(ChatTemplate::detect("")->format(), ChatFormat::kChatMl);
  EXPECT_EQ(ChatTemplate::detect("llama3")->format(), ChatFormat::kLlama3);
}

TEST(ChatTemplate, UnknownTemplateIsAnErrorNamingIt) {
  std::string src =
      "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] "
      "}}<|end|>\n"
      "{% endfor %}";
  auto t = ChatTemplate::detect(src);
  ASSERT_FALSE(t.ok());
  std::string head = src.substr(0, 60);
  for (char& c : head)
    if (c == '\n') c = ' ';
  EXPECT_NE(t.error().find(head), std::string::npos) << t.error();
  EXPECT_EQ(t.error().find(src.substr(0, 70)), std::string::npos);  // only the first 60 chars
  EXPECT_NE(t.error().find("only ChatML, Llama-2, Llama-3 and Gemma"), std::string::npos) << t.error();
}

}  // namespace
}  // namespace turbine
