#include "engine/model/synth.h"
#include "kernels/quantize.h"

#include <cmath>
#include <cstring>
#include <tuple>
#include <set>
#include <thread>

namespace turbine {
namespace {

// splitmix64: tiny, seedable, identical everywhere.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }  // [0,1)
};

const char* kChatMl =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
    "'<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
    "'<|im_start|>assistant\\n' }}{% endif %}";

// GPT-2's byte -> printable code point mapping, UTF-8 encoded.
std::string byte_token(int b) {
  int cp = b;
  bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  if (!printable) {
    int n = 0;
    for (int x = 0; x < b; ++x)
      if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) ++n;
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

// Random tensor of `rows` x `cols`, uniform with variance 1/cols so activations keep their
// scale through the layers, quantized to `type`. Rows are filled in parallel from per-row
// seeds, so the result does not depend on the thread count.
std::vector<uint8_t> random_matrix(uint64_t seed, int64_t rows, int64_t cols, DType type,
                                   float scale) {
  size_t rb = row_bytes(type, cols);
  std::vector<uint8_t> out(rb * rows);
  int n_threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  if (rows * cols < (1 << 16)) n_threads = 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < n_threads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> row(cols);
      for (int64_t r = t; r < rows; r += n_threads) {
        Rng rng{seed * 0x100000001B3ull + static_cast<uint64_t>(r)};
        for (int64_t c = 0; c < cols; ++c) row[c] = (rng.uniform() * 2.f - 1.f) * scale;
        quantize_row(type, row.data(), out.data() + rb * r, cols);
      }
    });
  }
  for (auto& th : threads) th.join();
  return out;
}

// F32 vector of 1 + uniform(-spread/2, spread/2) (norm weights), or of uniform(-spread/2,
// spread/2) when `centre` is 0 (biases).
std::vector<uint8_t> norm_vector(uint64_t seed, int64_t n, float centre = 1.0f, float spread = 0.2f) {
  Rng rng{seed};
  std::vector<float> v(n);
  for (auto& x : v) x = centre + (rng.uniform() - 0.5f) * spread;
  std::vector<uint8_t> out(n * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

}  // namespace

Status validate(const SynthOptions& o) {
  auto bad = [](const std::string& m) { return Status(Error{"synth: " + m}); };
  if (o.arch != "llama" && o.arch != "qwen2" && o.arch != "qwen3" && o.arch != "gemma3")
    return bad("--arch must be llama, qwen2, qwen3 or gemma3, not '" + o.arch + "'");
  if (o.sliding_window < 0) return bad("--sliding-window must not be negative");
  if (o.rope_scaling != "none" && o.rope_scaling != "linear" && o.rope_scaling != "llama3")
    return bad("--rope-scaling must be none, linear or llama3, not '" + o.rope_scaling + "'");
  if (!(o.rope_factor >= 1.f)) return bad("--rope-factor must be at least 1");
  if (o.n_layers < 1 || o.n_layers > 1024) return bad("--layers must be in [1, 1024]");
  if (o.n_heads < 1 || o.n_kv_heads < 1 || o.n_heads % o.n_kv_heads)
    return bad("--heads must be a positive multiple of --kv-heads");
  if (o.head_dim == 0) {
    if (o.n_embd < 1 || o.n_embd % o.n_heads) return bad("--hidden must be a multiple of --heads");
    if ((o.n_embd / o.n_heads) % 2) return bad("head dimension (hidden / heads) must be even");
  } else if (o.head_dim < 2 || o.head_dim > 1024 || o.head_dim % 2) {
    return bad("--head-dim must be even and in [2, 1024]");
  }
  if (o.n_vocab < 259) return bad("--vocab must be at least 259 (3 special + 256 byte tokens)");
  for (auto [what, n, t] : {std::tuple{"--hidden", o.n_embd, o.weight_type},
                            std::tuple{"--ffn", o.n_ff, o.weight_type},
                            std::tuple{"--hidden", o.n_embd, o.embd_type}}) {
    int blk = traits(t).block_elems;
    if (n < 1 || n % blk)
      return bad(std::string(what) + " = " + std::to_string(n) + " must be a multiple of " +
                 std::to_string(blk) + " for type " + std::string(dtype_name(t)));
  }
  return {};
}

Result<GgufWriter> synth_model(const SynthOptions& o) {
  if (Status s = validate(o); !s) return Error{s.error()};
  GgufWriter w;
  const int64_t hd = o.head_dim ? o.head_dim : o.n_embd / o.n_heads;
  const std::string a = o.arch + ".";
  w.set_string("general.architecture", o.arch);
  w.set_string("general.name", o.name);
  w.set_u32("general.file_type", 1);
  w.set_u32(a + "block_count", o.n_layers);
  w.set_u32(a + "context_length", o.context_length);
  w.set_u32(a + "embedding_length", o.n_embd);
  w.set_u32(a + "feed_forward_length", o.n_ff);
  w.set_u32(a + "attention.head_count", o.n_heads);
  w.set_u32(a + "attention.head_count_kv", o.n_kv_heads);
  if (o.head_dim) {
    w.set_u32(a + "attention.key_length", o.head_dim);
    w.set_u32(a + "attention.value_length", o.head_dim);
  }
  w.set_f32(a + "rope.freq_base", o.rope_theta);
  if (o.arch == "gemma3" && o.sliding_window > 0) {
    w.set_u32(a + "attention.sliding_window", o.sliding_window);
    w.set_f32(a + "rope.freq_base_swa", 10000.f);
  }
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  w.set_u32(a + "rope.dimension_count", hd);
  if (o.rope_scaling == "linear") {
    w.set_string(a + "rope.scaling.type", "linear");
    w.set_f32(a + "rope.scaling.factor", o.rope_factor);
  }
  w.set_u32(a + "vocab_size", o.n_vocab);

  // Tokenizer: SmolLM2's first three specials, the 256 byte tokens, then merges of random
  // pairs of existing tokens until the vocabulary is full (any such list is a valid BPE).
  std::vector<std::string> tokens = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
  std::vector<int32_t> types = {3, 3, 3};
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(byte_token(b));
    types.push_back(1);
  }
  std::set<std::string> seen(tokens.begin(), tokens.end());
  std::vector<std::string> merges;
  Rng rng{o.seed ^ 0x70CE};
  // Prefer merges of printable ASCII so short English-like text actually merges.
  while (static_cast<int>(tokens.size()) < o.n_vocab) {
    const size_t lo = 3, hi = tokens.size();
    size_t a = lo + rng.next() % (hi - lo), b = lo + rng.next() % (hi - lo);
    if (merges.size() < 200) {
      a = 3 + 32 + rng.next() % 95;
      b = 3 + 32 + rng.next() % 95;
    }
    std::string m = tokens[a] + tokens[b];
    if (m.size() > 24 || !seen.insert(m).second) continue;
    merges.push_back(tokens[a] + " " + tokens[b]);
    tokens.push_back(m);
    types.push_back(1);
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  // Qwen models split digits one by one (the "qwen2" pre-tokenizer); the rest as SmolLM2
  // (a synthetic gemma3 keeps this byte-level vocabulary rather than a SentencePiece one).
  w.set_string("tokenizer.ggml.pre", o.arch == "qwen2" || o.arch == "qwen3" ? "qwen2" : "smollm");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_strings("tokenizer.ggml.merges", merges);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  w.set_u32("tokenizer.ggml.unknown_token_id", 0);
  w.set_u32("tokenizer.ggml.padding_token_id", 2);
  w.set_bool("tokenizer.ggml.add_bos_token", false);
  w.set_bool("tokenizer.ggml.add_space_prefix", false);
  w.set_string("tokenizer.chat_template", kChatMl);

  const int64_t q_dim = o.n_heads * hd, kv_dim = o.n_kv_heads * hd;
  size_t total = 2 + 8 * size_t(o.n_layers) + (o.tied_embeddings ? 0 : 1), done = 0;
  auto tick = [&] {
    if (o.progress) o.progress(++done, total);
  };
  uint64_t seed = o.seed;
  auto mat = [&](const std::string& name, int64_t rows, int64_t cols, DType t, float scale) {
    w.add_tensor(name, {cols, rows}, t, random_matrix(++seed, rows, cols, t, scale));
    tick();
  };
  auto inv = [](int64_t fan_in) { return std::sqrt(3.0f / static_cast<float>(fan_in)); };
  mat("token_embd.weight", o.n_vocab, o.n_embd, o.embd_type, 1.0f);
  for (int l = 0; l < o.n_layers; ++l) {
    std::string p = "blk." + std::to_string(l) + ".";
    w.add_tensor(p + "attn_norm.weight", {o.n_embd}, DType::kF32, norm_vector(++seed, o.n_embd));
    mat(p + "attn_q.weight", q_dim, o.n_embd, o.weight_type, inv(o.n_embd));
    mat(p + "attn_k.weight", kv_dim, o.n_embd, o.weight_type, inv(o.n_embd));
    mat(p + "attn_v.weight", kv_dim, o.n_embd, o.weight_type, inv(o.n_embd));
    if (o.arch == "qwen2") {
      for (auto [name, n] : {std::pair{"attn_q.bias", q_dim}, std::pair{"attn_k.bias", kv_dim},
                             std::pair{"attn_v.bias", kv_dim}})
        w.add_tensor(p + name, {n}, DType::kF32, norm_vector(++seed, n, 0.0f, 1.0f));
    }
    if (o.arch == "qwen3" || o.arch == "gemma3") {
      for (const char* name : {"attn_q_norm.weight", "attn_k_norm.weight"})
        w.add_tensor(p + name, {hd}, DType::kF32, norm_vector(++seed, hd));
    }
    if (o.arch == "gemma3") {
      for (const char* name : {"post_attention_norm.weight", "post_ffw_norm.weight"})
        w.add_tensor(p + name, {o.n_embd}, DType::kF32, norm_vector(++seed, o.n_embd));
    }
    mat(p + "attn_output.weight", o.n_embd, q_dim, o.weight_type, inv(q_dim));
    w.add_tensor(p + "ffn_norm.weight", {o.n_embd}, DType::kF32, norm_vector(++seed, o.n_embd));
    mat(p + "ffn_gate.weight", o.n_ff, o.n_embd, o.weight_type, inv(o.n_embd));
    mat(p + "ffn_up.weight", o.n_ff, o.n_embd, o.weight_type, inv(o.n_embd));
    mat(p + "ffn_down.weight", o.n_embd, o.n_ff, o.weight_type, inv(o.n_ff));
    tick();
  }
  w.add_tensor("output_norm.weight", {o.n_embd}, DType::kF32, norm_vector(++seed, o.n_embd));
  if (o.rope_scaling == "llama3") {
    // Llama-3.1's rule: wavelengths under old_ctx / high_freq_factor keep their frequency,
    // those over old_ctx / low_freq_factor are divided by the factor, a smooth ramp between.
    const double low = 1.0, high = 4.0, old_ctx = o.context_length, pi = 3.14159265358979323846;
    std::vector<float> ff(hd / 2);
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double freq = std::pow(double(o.rope_theta), -2.0 * double(i) / double(hd));
      const double wavelen = 2 * pi / freq;
      if (wavelen < old_ctx / high) {
        ff[i] = 1.f;
      } else if (wavelen > old_ctx / low) {
        ff[i] = o.rope_factor;
      } else {
        const double smooth = (old_ctx / wavelen - low) / (high - low);
        ff[i] = static_cast<float>(1.0 / ((1 - smooth) / o.rope_factor + smooth));
      }
    }
    std::vector<uint8_t> bytes(ff.size() * sizeof(float));
    std::memcpy(bytes.data(), ff.data(), bytes.size());
    w.add_tensor("rope_freqs.weight", {hd / 2}, DType::kF32, std::move(bytes));
  }
  tick();
  if (!o.tied_embeddings) mat("output.weight", o.n_vocab, o.n_embd, o.weight_type, inv(o.n_embd));
  return w;
}

Status synth_model_file(const SynthOptions& o, const std::string& path) {
  auto w = synth_model(o);
  if (!w) return Error{w.error()};
  return w->write(path);
}

}  // namespace turbine
