#include "engine/model/llama_model.h"

#include <cmath>
#include <cstring>

namespace turbine {

Result<Matrix> LlamaModel::bind(const std::string& name, int64_t rows, int64_t cols) {
  auto t = rows == 1 ? file_->require_tensor(name, {cols}) : file_->require_tensor(name, {cols, rows});
  if (!t) return Error{t.error()};
  const GgufTensor& g = **t;
  Matrix m;
  m.type = g.type;
  m.rows = rows;
  m.cols = cols;
  m.row_stride = row_bytes(g.type, cols);
  if (backend_.uses_host_memory()) {
    m.data = g.data;  // zero-copy from the mapping
    // Touch every page now so loading (with its progress bar) pays the page faults, not the
    // first request.
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < g.nbytes; i += 4096) sink = sink + g.data[i];
    (void)sink;
  } else {
    auto buf = backend_.alloc(g.nbytes);
    backend_.upload(buf->data(), g.data, g.nbytes);
    m.data = buf->data();
    weight_buffers_.push_back(std::move(buf));
  }
  loaded_bytes_ += g.nbytes;
  if (load_opt_ && load_opt_->progress) load_opt_->progress(loaded_bytes_, file_->tensor_data_bytes());
  return m;
}

Result<const float*> LlamaModel::bind_vector(const std::string& name, int64_t n) {
  const GgufTensor* t = file_->find_tensor(name);
  if (t && t->type != DType::kF32)
    return Error{"model '" + file_->path() + "': tensor '" + name + "' must be F32, is " +
                 std::string(dtype_name(t->type))};
  auto m = bind(name, 1, n);
  if (!m) return Error{m.error()};
  return static_cast<const float*>(m->data);
}

LlamaModel::~LlamaModel() { backend_.drop_graphs(); }  // its weights leave with it

Result<std::unique_ptr<LlamaModel>> LlamaModel::load(std::shared_ptr<GgufFile> file,
                                                     Backend& backend, const LoadOptions& opt) {
  auto cfg = LlamaConfig::from_gguf(*file);
  if (!cfg) return Error{cfg.error()};
  std::unique_ptr<LlamaModel> m(new LlamaModel(file, backend, *cfg));
  m->load_opt_ = &opt;
  const LlamaConfig& c = m->cfg_;
  if (opt.kv_type == KvType::kInt4 && c.head_dim % 2 != 0)
    return Error{"an int4 KV cache needs an even head size; this model's is " +
                 std::to_string(c.head_dim)};
  m->kv_type_ = opt.kv_type;
  const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
  const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;

#define TURBINE_BIND(dst, expr)            \
  do {                                     \
    auto r = (expr);                       \
    if (!r) return Error{r.error()};       \
    dst = *r;                              \
  } while (0)

  TURBINE_BIND(m->tok_embd_, m->bind("token_embd.weight", c.n_vocab, c.n_embd));
  for (int i = 0; i < c.n_layers; ++i) {
    Layer L{};
    const std::string p = "blk." + std::to_string(i) + ".";
    TURBINE_BIND(L.attn_norm, m->bind_vector(p + "attn_norm.weight", c.n_embd));
    TURBINE_BIND(L.wq, m->bind(p + "attn_q.weight", q_dim, c.n_embd));
    TURBINE_BIND(L.wk, m->bind(p + "attn_k.weight", kv_dim, c.n_embd));
    TURBINE_BIND(L.wv, m->bind(p + "attn_v.weight", kv_dim, c.n_embd));
    if (c.qkv_bias) {
      TURBINE_BIND(L.bq, m->bind_vector(p + "attn_q.bias", q_dim));
      TURBINE_BIND(L.bk, m->bind_vector(p + "attn_k.bias", kv_dim));
      TURBINE_BIND(L.bv, m->bind_vector(p + "attn_v.bias", kv_dim));
    }
    if (c.qk_norm) {
      TURBINE_BIND(L.q_norm, m->bind_vector(p + "attn_q_norm.weight", c.head_dim));
      TURBINE_BIND(L.k_norm, m->bind_vector(p + "attn_k_norm.weight", c.head_dim));
    }
    TURBINE_BIND(L.wo, m->bind(p + "attn_output.weight", c.n_embd, q_dim));
    TURBINE_BIND(L.ffn_norm, m->bind_vector(p + "ffn_norm.weight", c.n_embd));
    if (c.post_norms) {
      TURBINE_BIND(L.post_attn_norm, m->bind_vector(p + "post_attention_norm.weight", c.n_embd));
      TURBINE_BIND(L.post_ffn_norm, m->bind_vector(p + "post_ffw_norm.weight", c.n_embd));
    }
    TURBINE_BIND(L.w_gate, m->bind(p + "ffn_gate.weight", c.n_ff, c.n_embd));
    TURBINE_BIND(L.w_up, m->bind(p + "ffn_up.weight", c.n_ff, c.n_embd));
    TURBINE_BIND(L.w_down, m->bind(p + "ffn_down.weight", c.n_embd, c.n_ff));
    m->layers_.push_back(L);
  }
  TURBINE_BIND(m->output_norm_, m->bind_vector("output_norm.weight", c.n_embd));
  if (c.rope_factors) TURBINE_BIND(m->rope_freqs_, m->bind_vector("rope_freqs.weight", c.rope_dim / 2));
  if (c.tied_embeddings) {
    m->output_ = m->tok_embd_;
  } else {
    TURBINE_BIND(m->output_, m->bind("output.weight", c.n_vocab, c.n_embd));
  }
#undef TURBINE_BIND
  m->load_opt_ = nullptr;

  // A decode step reads every matrix once (the embedding only one row) plus the norms.
  size_t w = m->output_.row_stride * m->output_.rows + m->tok_embd_.row_stride;
  for (const Layer& L : m->layers_)
    for (const Matrix* x : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      w += x->row_stride * x->rows;
  w += sizeof(float) * c.n_embd * (2 * c.n_layers + 1);
  if (c.qkv_bias) w += sizeof(float) * size_t(q_dim + 2 * kv_dim) * c.n_layers;
  if (c.qk_norm) w += sizeof(float) * size_t(2 * c.head_dim) * c.n_layers;
  if (c.post_norms) w += sizeof(float) * size_t(2 * c.n_embd) * c.n_layers;
  m->weight_bytes_ = w;
  return m;
}

KvGeometry LlamaModel::kv_geometry(int num_blocks, int block_size) const {
  KvGeometry g;
  g.kv_type = kv_type_;
  g.block_size = block_size;
  g.num_blocks = num_blocks;
  g.n_kv_heads = cfg_.n_kv_heads;
  g.head_dim = cfg_.head_dim;
  return g;
}

void LlamaModel::ensure_scratch(int n_tokens, int n_logits) {
  const LlamaConfig& c = cfg_;
  auto fbuf = [&](int64_t floats) { return backend_.alloc(sizeof(float) * floats); };
  if (n_tokens > scratch_tokens_ || n_logits > scratch_logits_) backend_.drop_graphs();
  if (n_tokens > scratch_tokens_) {
    int n = std::max(n_tokens, 16);
    const int64_t q_dim = int64_t{c.n_heads} * c.head_dim;
    const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
    x_ = fbuf(n * int64_t{c.n_embd});
    h_ = fbuf(n * int64_t{c.n_embd});
    q_ = fbuf(n * q_dim);
    k_ = fbuf(n * kv_dim);
    v_ = fbuf(n * kv_dim);
    att_ = fbuf(n * q_dim);
    gate_ = fbuf(n * int64_t{c.n_ff});
    up_ = fbuf(n * int64_t{c.n_ff});
    scratch_tokens_ = n;
  }
  if (n_logits > scratch_logits_) {
    int n = std::max(n_logits, 4);
    sel_ = fbuf(n * int64_t{c.n_embd});
    logits_dev_ = fbuf(n * int64_t{c.n_vocab});
    scratch_logits_ = n;
  }
}

const float* LlamaModel::run(const ForwardBatch& b, KvPool& kv) {
  const LlamaConfig& c = cfg_;
  const int n = b.n_tokens();
  const int n_out = static_cast<int>(b.logit_rows.size());
  TURBINE_CHECK(n > 0 && b.positions.size() == size_t(n) && b.seq_of_token.size() == size_t(n));
  TURBINE_CHECK(b.block_tables.size() == size_t(b.n_seqs) * b.max_blocks_per_seq);
  ensure_scratch(n, n_out);
  Backend& be = backend_;
  const KvGeometry& g = kv.geometry();
  // A decode step (one token per sequence, each wanting logits) of up to kGraphMaxTokens
  // runs as one backend graph (docs/ARCHITECTURE.md, GPU steps as graphs): its block tables
  // go at a stride rounded up to 16 blocks, so the step's shape, and with it every op's
  // arguments, repeats until a sequence outgrows 16 more blocks or the batch changes.
  const bool as_graph = n == b.n_seqs && n_out == n && n <= kGraphMaxTokens;
  const int stride = as_graph ? (b.max_blocks_per_seq + 15) / 16 * 16 : b.max_blocks_per_seq;

  // Token metadata travels to backend memory in one upload: tokens, positions, sequence
  // of each token, KV slot of each token, block tables.
  std::vector<int32_t> meta;
  meta.reserve(4 * n + size_t(b.n_seqs) * stride + n_out);
  meta.insert(meta.end(), b.tokens.begin(), b.tokens.end());
  meta.insert(meta.end(), b.positions.begin(), b.positions.end());
  meta.insert(meta.end(), b.seq_of_token.begin(), b.seq_of_token.end());
  for (int t = 0; t < n; ++t) {
    int pos = b.positions[t];
    int blk = b.block_tables[size_t(b.seq_of_token[t]) * b.max_blocks_per_seq + pos / g.block_size];
    meta.push_back(blk * g.block_size + pos % g.block_size);
  }
  for (int i = 0; i < b.n_seqs; ++i) {
    auto row = b.block_tables.begin() + size_t(i) * b.max_blocks_per_seq;
    meta.insert(meta.end(), row, row + b.max_blocks_per_seq);
    meta.insert(meta.end(), stride - b.max_blocks_per_seq, 0);
  }
  meta.insert(meta.end(), b.logit_rows.begin(), b.logit_rows.end());
  for (int r : b.logit_rows) TURBINE_CHECK(r >= 0 && r < n);
  if (!meta_ || meta_->size() < meta.size() * sizeof(int32_t)) {
    be.drop_graphs();
    meta_ = be.alloc(std::max<size_t>(meta.size() * sizeof(int32_t) * 2, 4096));
  }
  be.upload(meta_->data(), meta.data(), meta.size() * sizeof(int32_t));
  const int32_t* d_meta = static_cast<const int32_t*>(meta_->data());
  const int32_t* d_tokens = d_meta;
  const int32_t* d_pos = d_meta + n;
  const int32_t* d_seq = d_meta + 2 * n;
  const int32_t* d_slots = d_meta + 3 * n;
  const int32_t* d_tables = d_meta + 4 * n;
  const int32_t* d_logit_rows = d_tables + size_t(b.n_seqs) * stride;

  float* x = static_cast<float*>(x_->data());
  float* h = static_cast<float*>(h_->data());
  float* q = static_cast<float*>(q_->data());
  float* k = static_cast<float*>(k_->data());
  float* v = static_cast<float*>(v_->data());
  float* att = static_cast<float*>(att_->data());
  float* gate = static_cast<float*>(gate_->data());
  float* up = static_cast<float*>(up_->data());

  AttentionBatch ab;
  ab.n_tokens = n;
  ab.n_seqs = b.n_seqs;
  ab.positions = d_pos;
  ab.seq_of_token = d_seq;
  ab.block_tables = d_tables;
  ab.max_blocks_per_seq = stride;
  AttentionParams ap;
  ap.n_heads = c.n_heads;
  ap.n_kv_heads = c.n_kv_heads;
  ap.head_dim = c.head_dim;
  ap.scale = c.attn_scale;

  // Local (sliding-window) layers rotate with their own base and no scaling, as llama.cpp's
  // get_rope_freq_base / get_rope_freq_scale give them.
  const RopeScaling rope_scaling{c.rope_freq_scale, rope_freqs_};
  const RopeScaling rope_local{};
  AttentionParams ap_local = ap;
  ap_local.window = c.sliding_window;
  float* sel = static_cast<float*>(sel_->data());
  float* logits = static_cast<float*>(logits_dev_->data());
  auto ops = [&] {
    be.get_rows(tok_embd_, d_tokens, n, x);
    if (c.embd_scale > 0.f) be.scale(x, c.embd_scale, int64_t{n} * c.n_embd);
    for (int l = 0; l < c.n_layers; ++l) {
      const Layer& L = layers_[l];
      const bool local = c.is_local_layer(l);
      // The previous layer's FFN residual add and this layer's norm are one op (a backend
      // that fuses them passes over x once).
      if (l == 0) {
        be.rms_norm(x, L.attn_norm, n, c.n_embd, c.rms_eps, h);
      } else {
        be.add_rms_norm(x, h, L.attn_norm, n, c.n_embd, c.rms_eps, h);
      }
      {
        const Matrix qkv[] = {L.wq, L.wk, L.wv};
        float* const out[] = {q, k, v};
        be.matmul_multi(qkv, 3, h, n, out);
      }
      if (c.qkv_bias) {
        be.add_bias(q, L.bq, n, c.n_heads * c.head_dim);
        be.add_bias(k, L.bk, n, c.n_kv_heads * c.head_dim);
        be.add_bias(v, L.bv, n, c.n_kv_heads * c.head_dim);
      }
      if (c.qk_norm) {  // every head's row normalized on its own, before RoPE
        be.rms_norm(q, L.q_norm, n * c.n_heads, c.head_dim, c.rms_eps, q);
        be.rms_norm(k, L.k_norm, n * c.n_kv_heads, c.head_dim, c.rms_eps, k);
      }
      const float theta = local ? c.rope_theta_swa : c.rope_theta;
      const RopeScaling& rs = local ? rope_local : rope_scaling;
      be.rope(q, n, c.n_heads, c.head_dim, c.rope_dim, d_pos, theta, c.rope_style, rs);
      be.rope(k, n, c.n_kv_heads, c.head_dim, c.rope_dim, d_pos, theta, c.rope_style, rs);
      be.kv_store(g, kv.layer(l), k, v, d_slots, n);
      be.attention(g, kv.layer(l), ab, local ? ap_local : ap, q, att);
      be.matmul(L.wo, att, n, h);
      if (c.post_norms) be.rms_norm(h, L.post_attn_norm, n, c.n_embd, c.rms_eps, h);
      be.add_rms_norm(x, h, L.ffn_norm, n, c.n_embd, c.rms_eps, h);
      {
        const Matrix gate_up[] = {L.w_gate, L.w_up};
        float* const out[] = {gate, up};
        be.matmul_multi(gate_up, 2, h, n, out);
      }
      if (c.gelu_ffn) {
        be.geglu(gate, up, int64_t{n} * c.n_ff, gate);
      } else {
        be.swiglu(gate, up, int64_t{n} * c.n_ff, gate);
      }
      be.matmul(L.w_down, gate, n, h);
      if (c.post_norms) be.rms_norm(h, L.post_ffn_norm, n, c.n_embd, c.rms_eps, h);
    }
    be.add(x, h, int64_t{n} * c.n_embd);

    if (n_out == 0) return;
    // Only the rows whose logits are wanted go through the final norm and the LM head: for a
    // prefill that is one row instead of hundreds, and the LM head is the largest matrix.
    // Gathering rows of x is an embedding lookup in an F32 "matrix", so every backend can do it.
    Matrix xm{DType::kF32, x, n, c.n_embd, sizeof(float) * size_t(c.n_embd)};
    be.get_rows(xm, d_logit_rows, n_out, sel);
    be.rms_norm(sel, output_norm_, n_out, c.n_embd, c.rms_eps, sel);
    be.matmul(output_, sel, n_out, logits);
  };
  if (as_graph) {
    // The key: this step's shape and every pointer the ops take that is not fixed for the
    // model's life (the KV pool's; the model drops graphs when its own buffers move).
    uint64_t key = 0x9E3779B97F4A7C15ull;
    auto mix = [&key](uint64_t v) {
      key ^= v + 0x9E3779B97F4A7C15ull + (key << 6) + (key >> 2);
    };
    mix(reinterpret_cast<uintptr_t>(this));
    mix(uint64_t(n) << 32 | uint32_t(stride));
    mix(uint64_t(g.num_blocks) << 32 | uint32_t(g.block_size));
    for (int l = 0; l < c.n_layers; ++l) {
      mix(reinterpret_cast<uintptr_t>(kv.layer(l).k));
      mix(reinterpret_cast<uintptr_t>(kv.layer(l).v));
    }
    be.run_graph(key, ops);
  } else {
    ops();
  }
  return n_out ? logits : nullptr;
}

const std::vector<float>& LlamaModel::forward(const ForwardBatch& b, KvPool& kv) {
  const float* logits = run(b, kv);
  logits_.resize(b.logit_rows.size() * size_t(cfg_.n_vocab));
  if (logits) backend_.download(logits_.data(), logits, logits_.size() * sizeof(float));
  backend_.synchronize();
  return logits_;
}

const std::vector<int32_t>& LlamaModel::forward_argmax(const ForwardBatch& b, KvPool& kv) {
  const float* logits = run(b, kv);
  ids_.resize(b.logit_rows.size());
  if (logits) backend_.argmax(logits, static_cast<int>(ids_.size()), cfg_.n_vocab, ids_.data());
  backend_.synchronize();
  return ids_;
}

const std::vector<int32_t>& LlamaModel::forward_sample(const ForwardBatch& b, KvPool& kv,
                                                       const std::vector<SampleSpec>& specs) {
  TURBINE_CHECK(specs.size() == b.logit_rows.size());
  const float* logits = run(b, kv);
  ids_.resize(b.logit_rows.size());
  if (logits) backend_.sample(logits, static_cast<int>(ids_.size()), cfg_.n_vocab, specs.data(), ids_.data());
  backend_.synchronize();
  return ids_;
}

}  // namespace turbine
