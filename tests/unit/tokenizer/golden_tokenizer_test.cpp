// turbine's tokenizer against llama.cpp's llama_tokenize on the real SmolLM2 vocabulary:
// tests/golden/tokenizer.json (scripts/make-golden) holds llama.cpp's ids; the vocabulary is
// read from the GGUF named by TURBINE_MODEL (scripts/test sets it).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "engine/gguf/gguf_file.h"
#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"
#include "mini_json.h"

namespace turbine {
namespace {

using testing::Json;

std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    auto b = static_cast<uint8_t>(s[i]);
    size_t n = b < 0x80             ? 1
               : (b & 0xE0) == 0xC0 ? 2
               : (b & 0xF0) == 0xE0 ? 3
               : (b & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t c = n == 1 ? b : n == 2 ? b & 0x1F : n == 3 ? b & 0x0F : b & 0x07;
    for (size_t k = 1; k < n; ++k) {
      auto x = static_cast<uint8_t>(s[i + k]);
      if ((x & 0xC0) != 0x80) return false;
      c = (c << 6) | (x & 0x3F);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < kMin[n] || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) return false;
    i += n;
  }
  return true;
}

// The tokenizer.ggml.* keys -> VocabData, as the model loader does it (kept here so this
// test needs only the GGUF reader).
Result<VocabData> read_vocab(const GgufFile& f) {
  VocabData v;
  v.model = f.get_string("tokenizer.ggml.model").value_or("");
  v.pre = f.get_string("tokenizer.ggml.pre").value_or("default");
  auto tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return Error{"no tokenizer.ggml.tokens"};
  v.tokens = std::move(*tokens);
  v.scores = f.get_float_array("tokenizer.ggml.scores").value_or(std::vector<float>{});
  v.token_types = f.get_int_array("tokenizer.ggml.token_type").value_or(std::vector<int32_t>{});
  v.merges = f.get_string_array("tokenizer.ggml.merges").value_or(std::vector<std::string>{});
  auto id = [&](const char* key) { return static_cast<int32_t>(f.get_int(key).value_or(-1)); };
  v.bos_id = id("tokenizer.ggml.bos_token_id");
  v.eos_id = id("tokenizer.ggml.eos_token_id");
  v.unk_id = id("tokenizer.ggml.unknown_token_id");
  v.pad_id = id("tokenizer.ggml.padding_token_id");
  v.eot_id = id("tokenizer.ggml.eot_token_id");
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token").value_or(v.model == "llama");
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  v.add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(v.model == "llama");
  v.chat_template = f.get_string("tokenizer.chat_template").value_or("");
  return v;
}

const Tokenizer* real_tokenizer(std::string* why) {
  static std::string reason;
  static const Tokenizer* tok = []() -> const Tokenizer* {
    const char* path = std::getenv("TURBINE_MODEL");
    if (!path || !*path) {
      reason = "TURBINE_MODEL is not set (scripts/test fetches SmolLM2 and sets it)";
      return nullptr;
    }
    auto f = GgufFile::open(path);
    if (!f) {
      reason = "cannot open TURBINE_MODEL: " + f.error();
      return nullptr;
    }
    auto v = read_vocab(**f);
    if (!v) {
      reason = v.error();
      return nullptr;
    }
    auto t = Tokenizer::create(std::move(*v));
    if (!t) {
      reason = "Tokenizer::create failed: " + t.error();
      return nullptr;
    }
    return new Tokenizer(std::move(*t));
  }();
  *why = reason;
  return tok;
}

bool load_json(const std::string& name, Json& out) {
  std::ifstream in(std::string(TURBINE_SOURCE_DIR) + "/tests/golden/" + name, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  return testing::JsonParser(text).parse(out);
}

TEST(GoldenTokenizer, EveryCaseMatchesLlamaCpp) {
  std::string why;
  const Tokenizer* tok = real_tokenizer(&why);
  if (!tok) GTEST_SKIP() << why;
  Json g;
  if (!load_json("tokenizer.json", g))
    GTEST_SKIP() << "tests/golden/tokenizer.json is missing (scripts/make-golden)";
  ASSERT_EQ(g["cases"].kind, Json::kArray);
  int n = 0, mismatched = 0, round_trips = 0;
  for (const Json& c : g["cases"].arr) {
    ++n;
    const std::string text = from_hex(c["text_hex"].str);
    const bool add_special = c["add_special"].b, parse_special = c["parse_special"].b;
    std::vector<int32_t> expect;
    for (const Json& x : c["ids"].arr) expect.push_back(static_cast<int32_t>(x.num));
    std::vector<int32_t> got = tok->encode(text, add_special, parse_special);
    if (got != expect) {
      ++mismatched;
      ADD_FAILURE() << "case " << n << " (" << c["category"].str
                    << ") text_hex=" << c["text_hex"].str << " add_special=" << add_special
                    << " parse_special=" << parse_special << ": " << ::testing::PrintToString(got)
                    << " != " << ::testing::PrintToString(expect);
    }
    if (!parse_special && valid_utf8(text)) {
      EXPECT_EQ(tok->decode(got), text) << "decode(encode(x)) != x for case " << n;
      ++round_trips;
    }
  }
  EXPECT_GT(n, 100);
  EXPECT_GT(round_trips, 50);
  std::printf("golden tokenizer: %d cases, %d mismatched, %d decode round trips\n", n, mismatched,
              round_trips);
  // Inputs on which llama.cpp aborts: no reference, but no crash and a stable answer here.
  for (const Json& c : g["llama_aborts"].arr) {
    std::string text = from_hex(c["text_hex"].str);
    EXPECT_EQ(tok->encode(text, false, false), tok->encode(text, false, false));
    EXPECT_FALSE(tok->encode(text, false, false).empty());
  }
}

TEST(GoldenTokenizer, EndOfGenerationSetMatchesLlamaCpp) {
  std::string why;
  const Tokenizer* tok = real_tokenizer(&why);
  if (!tok) GTEST_SKIP() << why;
  Json g;
  if (!load_json("greedy.json", g))
    GTEST_SKIP() << "tests/golden/greedy.json is missing (scripts/make-golden)";
  std::vector<int32_t> expect, got;
  for (const Json& x : g["eog_ids"].arr) expect.push_back(static_cast<int32_t>(x.num));
  for (int32_t id = 0; id < tok->n_vocab(); ++id)
    if (tok->is_eog(id)) got.push_back(id);
  EXPECT_EQ(got, expect);
}

TEST(GoldenTokenizer, ChatTemplateRendersAsJinjaAndAsLlamaCpp) {
  std::string why;
  const Tokenizer* tok = real_tokenizer(&why);
  if (!tok) GTEST_SKIP() << why;
  Json g;
  if (!load_json("greedy.json", g))
    GTEST_SKIP() << "tests/golden/greedy.json is missing (scripts/make-golden)";
  auto jinja = ChatTemplate::detect(tok->vocab().chat_template);
  auto legacy = ChatTemplate::detect(tok->vocab().chat_template, {.use_default_system = false});
  ASSERT_TRUE(jinja.ok()) << jinja.error();
  ASSERT_TRUE(legacy.ok()) << legacy.error();
  EXPECT_EQ(jinja->default_system(),
            "You are a helpful AI assistant named SmolLM, trained by Hugging Face");
  for (const Json& c : g["cases"].arr) {
    std::vector<ChatMessage> msgs;
    for (const Json& m : c["messages"].arr) msgs.push_back({m["role"].str, m["content"].str});
    EXPECT_EQ(jinja->render(msgs, true), c["prompt"].str);
    EXPECT_EQ(legacy->render(msgs, true), c["prompt_llama_chat_apply_template"].str);
    std::vector<int32_t> ids;
    for (const Json& x : c["prompt_ids"].arr) ids.push_back(static_cast<int32_t>(x.num));
    EXPECT_EQ(tok->encode(c["prompt"].str, true, true), ids);
  }
}

}  // namespace
}  // namespace turbine
