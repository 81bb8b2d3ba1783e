#include "engine/quant/awq.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

#include "engine/model/llama_model.h"
#include "engine/model/single_sequence.h"
#include "engine/quant/activation_tap.h"
#include "kernels/quantize.h"

namespace turbine {

namespace {

constexpr int kAlphaSteps = 20;                 // alpha = 0, 0.05, ..., 0.95
constexpr float kClipRatios[] = {1.f, .95f, .9f, .85f, .8f, .75f, .7f, .65f, .6f, .55f, .5f};

// Runs f(i) for i in [0, n) on `threads` threads, contiguous ranges each.
template <typename F>
void parallel_rows(int64_t n, int threads, F f) {
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (threads == 1) {
    for (int64_t i = 0; i < n; ++i) f(i);
    return;
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int64_t i = n * t / threads; i < n * (t + 1) / threads; ++i) f(i);
    });
  for (auto& th : pool) th.join();
}

struct FloatMatrix {
  std::string name;
  int64_t rows = 0, cols = 0;
  std::vector<float> w;  // [rows][cols]
};

FloatMatrix dequantized(const GgufFile& f, const std::string& name) {
  const GgufTensor* t = f.find_tensor(name);
  TURBINE_CHECK(t != nullptr && t->dims.size() == 2);
  FloatMatrix m{name, t->dims[1], t->dims[0], {}};
  m.w.resize(size_t(m.rows) * m.cols);
  const size_t rb = row_bytes(t->type, m.cols);
  for (int64_t r = 0; r < m.rows; ++r) dequantize_row(t->type, t->data + r * rb, &m.w[r * m.cols], m.cols);
  return m;
}

class Search {
 public:
  Search(Backend& be, DType type, int threads) : be_(be), type_(type), threads_(threads) {}

  // Sum over calibration tokens and rows of (x . (wq - w))^2 for one matrix, where wq is
  // w with columns scaled by s, rounded to type_ (each group clipped by clip, if given),
  // and scaled back.
  double loss(const FloatMatrix& m, const std::vector<float>& x, int n, const std::vector<float>& s,
              const std::vector<float>* clip) {
    std::vector<float> delta(m.w.size());
    const size_t rb = row_bytes(type_, m.cols);
    parallel_rows(m.rows, threads_, [&](int64_t r) {
      std::vector<float> ws(m.cols), back(m.cols);
      std::vector<uint8_t> q(rb);
      const float* wr = &m.w[r * m.cols];
      for (int64_t c = 0; c < m.cols; ++c) ws[c] = wr[c] * s[c];
      quantize(ws.data(), m.cols, clip ? &(*clip)[r * groups(m.cols)] : nullptr, q.data());
      dequantize_row(type_, q.data(), back.data(), m.cols);
      for (int64_t c = 0; c < m.cols; ++c) delta[r * m.cols + c] = back[c] / s[c] - wr[c];
    });
    std::vector<float> y(size_t(n) * m.rows);
    be_.matmul(Matrix{DType::kF32, delta.data(), m.rows, m.cols, sizeof(float) * size_t(m.cols)},
               x.data(), n, y.data());
    double sum = 0;
    for (float v : y) sum += double(v) * v;
    return sum;
  }

  // Per row and group of 128 of w * s: the clip ratio minimising the rounding error
  // weighted by the mean square of the input the column meets (x_c / s_c).
  std::vector<float> clip_search(const FloatMatrix& m, const std::vector<float>& s,
                                 const std::vector<float>& x_sq) {
    const int64_t ng = groups(m.cols);
    std::vector<float> clip(size_t(m.rows) * ng, 1.f);
    parallel_rows(m.rows, threads_, [&](int64_t r) {
      BlockW4G128 blk;
      float ws[kW4Group], back[kW4Group];
      for (int64_t g = 0; g < ng; ++g) {
        const int64_t c0 = g * kW4Group;
        const int len = static_cast<int>(std::min<int64_t>(kW4Group, m.cols - c0));
        for (int j = 0; j < len; ++j) ws[j] = m.w[r * m.cols + c0 + j] * s[c0 + j];
        double best = -1;
        for (float ratio : kClipRatios) {
          quantize_w4g128_group(ws, len, ratio, &blk);
          dequantize_row(DType::kW4G128, &blk, back, len);
          double e = 0;
          for (int j = 0; j < len; ++j) {
            const double d = back[j] - ws[j];
            e += d * d * x_sq[c0 + j] / (double(s[c0 + j]) * s[c0 + j]);
          }
          if (best < 0 || e < best) best = e, clip[r * ng + g] = ratio;
        }
      }
    });
    return clip;
  }

  void quantize(const float* x, int64_t n, const float* clip, void* dst) const {
    if (clip == nullptr || type_ != DType::kW4G128) return quantize_row(type_, x, dst, n);
    for (int64_t g = 0; g * kW4Group < n; ++g)
      quantize_w4g128_group(x + g * kW4Group, static_cast<int>(std::min<int64_t>(kW4Group, n - g * kW4Group)),
                            clip[g], static_cast<BlockW4G128*>(dst) + g);
  }
  static int64_t groups(int64_t cols) { return (cols + kW4Group - 1) / kW4Group; }

 private:
  Backend& be_;
  DType type_;
  int threads_;
};

}  // namespace

Result<AwqResult> awq_search(std::shared_ptr<GgufFile> file, std::span<const int32_t> calib,
                             const AwqOptions& opt) {
  if (calib.size() < 16) return Error{"AWQ needs at least 16 calibration tokens, got " + std::to_string(calib.size())};
  const int threads = opt.threads > 0 ? opt.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  auto cpu = make_cpu_backend(opt.threads);

  // 1. One forward pass over the calibration tokens, keeping each matmul's input.
  std::unordered_map<const void*, std::string> names;
  for (const GgufTensor& t : file->tensors()) names[t.data] = t.name;
  std::map<std::string, std::shared_ptr<std::vector<float>>> inputs;
  const float* last_x = nullptr;
  std::shared_ptr<std::vector<float>> last;
  ActivationTap tap(*cpu, [&](const Matrix& w, const float* x, int n) {
    auto it = names.find(w.data);
    if (it == names.end() || it->second.rfind("blk.", 0) != 0) return;  // the LM head
    // q/k/v and gate/up read the same input one after the other: one copy each.
    if (x != last_x || last == nullptr || last->size() != size_t(n) * w.cols)
      last = std::make_shared<std::vector<float>>(x, x + size_t(n) * w.cols);
    last_x = x;
    inputs[it->second] = last;
  });
  auto loaded = LlamaModel::load(file, tap);
  if (!loaded) return Error{loaded.error()};
  std::unique_ptr<LlamaModel> model = std::move(*loaded);
  const LlamaConfig c = model->config();
  // Folding a scale into attn_v's rows would have to scale its bias too; not written yet.
  if (c.qkv_bias)
    return Error{"AWQ does not support architecture '" + c.arch +
                 "' (Q/K/V biases) yet; quantize it with --method rtn"};
  const int n = static_cast<int>(std::min<size_t>(calib.size(), size_t(c.context_length)));
  {
    SingleSequence seq(*model, n, n);
    seq.eval(calib.subspan(0, n));
  }
  model.reset();

  // 2. Per layer and group: the scale exponent, then (W4G128) the clip ratios.
  AwqResult res;
  res.calib_tokens = n;
  Search search(*cpu, opt.type, threads);
  const int groups_total = 4 * c.n_layers;
  int groups_done = 0;
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    struct Group {
      std::vector<std::string> mats;
      std::string fold;  // the tensor that absorbs 1/s (a norm vector or a matrix's rows)
      bool tied_kv = false;
    } groups[] = {
        {{p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"}, p + "attn_norm.weight"},
        {{p + "attn_output.weight"}, p + "attn_v.weight", true},
        {{p + "ffn_gate.weight", p + "ffn_up.weight"}, p + "ffn_norm.weight"},
        {{p + "ffn_down.weight"}, p + "ffn_up.weight"},
    };
    for (const Group& g : groups) {
      auto in = inputs.find(g.mats[0]);
      if (in == inputs.end()) return Error{"calibration never reached '" + g.mats[0] + "'"};
      const std::vector<float>& x = *in->second;
      std::vector<FloatMatrix> mats;
      for (const auto& name : g.mats) mats.push_back(dequantized(*file, name));
      const int64_t cols = mats[0].cols;
      std::vector<double> x_mean(cols, 0.0), x_sq(cols, 0.0);
      for (int t = 0; t < n; ++t)
        for (int64_t j = 0; j < cols; ++j) {
          const double v = x[size_t(t) * cols + j];
          x_mean[j] += std::fabs(v), x_sq[j] += v * v;
        }
      for (int64_t j = 0; j < cols; ++j) x_mean[j] /= n, x_sq[j] /= n;
      const int hd = c.head_dim, per_kv = c.n_heads / c.n_kv_heads;
      if (g.tied_kv) {
        // Column h * hd + d comes from V row kv(h) * hd + d: the heads sharing a KV head
        // share its scale, so average their statistics.
        std::vector<double> m2(cols, 0.0);
        for (int kvh = 0; kvh < c.n_kv_heads; ++kvh)
          for (int d = 0; d < hd; ++d) {
            double sum = 0;
            for (int h = kvh * per_kv; h < (kvh + 1) * per_kv; ++h) sum += x_mean[size_t(h) * hd + d];
            for (int h = kvh * per_kv; h < (kvh + 1) * per_kv; ++h) m2[size_t(h) * hd + d] = sum / per_kv;
          }
        x_mean = m2;
      }
      std::vector<float> x_sqf(x_sq.begin(), x_sq.end());
      auto scales_for = [&](float alpha) {
        std::vector<float> s(cols);
        double mx = 0, mn = 1e30;
        for (int64_t j = 0; j < cols; ++j) {
          s[j] = static_cast<float>(std::pow(std::max(x_mean[j], 1e-4), double(alpha)));
          mx = std::max(mx, double(s[j])), mn = std::min(mn, double(s[j]));
        }
        const float norm = static_cast<float>(1.0 / std::sqrt(mx * mn));
        for (float& v : s) v *= norm;
        return s;
      };
      auto group_loss = [&](const std::vector<float>& s) {
        double sum = 0;
        for (const FloatMatrix& m : mats) sum += search.loss(m, x, n, s, nullptr);
        return sum;
      };
      AwqGroupResult gr;
      gr.first_matrix = g.mats[0];
      double best = -1;
      std::vector<float> best_s;
      for (int k = 0; k < kAlphaSteps; ++k) {
        const float alpha = 0.05f * k;
        std::vector<float> s = scales_for(alpha);
        const double e = group_loss(s);
        if (k == 0) gr.loss_rtn = e;
        if (best < 0 || e < best) best = e, best_s = s, gr.alpha = alpha;
      }
      // Clipping, kept per matrix only where it lowers that matrix's output error.
      double total = 0;
      for (const FloatMatrix& m : mats) {
        double plain = search.loss(m, x, n, best_s, nullptr);
        if (opt.type == DType::kW4G128) {
          std::vector<float> clip = search.clip_search(m, best_s, x_sqf);
          const double clipped = search.loss(m, x, n, best_s, &clip);
          if (clipped < plain) {
            plain = clipped;
            res.plan[m.name].clip = std::move(clip);
          }
        }
        total += plain;
        res.plan[m.name].col_mul = best_s;
      }
      const double denom = double(n) * [&] { int64_t r = 0; for (auto& m : mats) r += m.rows; return r; }();
      gr.loss_rtn /= denom;
      gr.loss_awq = total / denom;
      // The inverse scale folds into the producer of the input.
      std::vector<float> div = best_s;
      if (g.tied_kv) {
        div.assign(size_t(c.n_kv_heads) * hd, 1.f);
        for (int kvh = 0; kvh < c.n_kv_heads; ++kvh)
          for (int d = 0; d < hd; ++d) div[size_t(kvh) * hd + d] = best_s[size_t(kvh) * per_kv * hd + d];
      }
      res.plan[g.fold].row_div = std::move(div);
      res.groups.push_back(gr);
      if (opt.progress) opt.progress(double(++groups_done) / groups_total);
    }
    for (const Group& g : groups)
      for (const auto& name : g.mats) inputs.erase(name);
  }
  return res;
}

}  // namespace turbine
