// Llama-family forward pass on the CPU (the inference side of §7): RMSNorm, RoPE (interleaved pairs
// for llama2.c files, rotate-half for Hugging Face files), grouped-query attention over a KV cache,
// SwiGLU, tied or untied output. Linear layers are dense (fp32 / fp16) or QuIP#-quantized groups
// (§1.4 step 8 / §7.1: one stacked matrix per shared input, with fuse scales per member). While
// Hessian collection is on, the inputs of every linear group are accumulated as sum x x^T (§1.2).
// The other families are options of the same block, as transformers defines them: biases (Qwen 2,
// Llama's attention_bias / mlp_bias), per-head q/k norms (Qwen 3), GeGLU, (1 + w) norms, scaled
// embeddings, sandwich norms and soft-capping (Gemma 1/2), sliding windows (Mistral, Gemma 2, Qwen 2,
// Phi-3), partial rotary dimensions (Phi-3) and the RoPE scalings linear, llama3 and YaRN.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "quant/codebook.hpp"
#include "common/parallel.hpp"
#include "quant/qlinear.hpp"
#include "common/status.hpp"
#include "kernels/attention.hpp"
#include "kernels/gemm.hpp"
#include "kernels/matvec.hpp"
#include "model/qlayer.hpp"
#include "quipsharp/quipsharp.h"

namespace qs {
namespace {

// From this many tokens on, dense layers use the GEMM (below: the mat-vec kernels).
constexpr int64_t kGemmTokens = 4;
constexpr double kPi = 3.141592653589793;

float bf16_to_float(uint16_t b) {
  const uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float source_value(int32_t dtype, const void* data, int64_t i) {
  switch (dtype) {
    case QS_DTYPE_F32: return static_cast<const float*>(data)[i];
    case QS_DTYPE_F16: return half_to_float(static_cast<const uint16_t*>(data)[i]);
    default: return bf16_to_float(static_cast<const uint16_t*>(data)[i]);
  }
}

// dst (cols x rows) = src^T (rows x cols).
void transpose(const float* src, int64_t rows, int64_t cols, float* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * rows + i] = src[i * cols + j];
}

// A dense weight [out, in] kept in fp32 or fp16.
struct Dense {
  int64_t out = 0, in = 0;
  std::vector<float> f32;
  std::vector<uint16_t> f16;
  bool set() const { return !f32.empty() || !f16.empty(); }
  int64_t bytes() const { return static_cast<int64_t>(f32.size() * 4 + f16.size() * 2); }

  // y (count x out) = x (count x in) W^T.
  void forward(const float* x, int64_t count, float* y) const {
    if (count < kGemmTokens) {
      for (int64_t t = 0; t < count; ++t) {
        if (!f32.empty()) check(qs_f32_matvec(f32.data(), out, in, x + t * in, y + t * out, QS_KERNEL_AUTO));
        else check(qs_f16_matvec(f16.data(), out, in, x + t * in, y + t * out, QS_KERNEL_AUTO));
      }
      return;
    }
    // y^T (out x count) = W x^T, in tiles of rows (fp16 tiles converted first).
    std::vector<float> xt(static_cast<size_t>(in * count));
    transpose(x, count, in, xt.data());
    constexpr int64_t tile = 64;
    const int64_t tiles = (out + tile - 1) / tile;
    parallel_for(0, tiles, 1, [&](int64_t lo, int64_t hi) {
      std::vector<float> w, c(static_cast<size_t>(tile * count));
      for (int64_t ti = lo; ti < hi; ++ti) {
        const int64_t r0 = ti * tile, rows = std::min(tile, out - r0);
        const float* wt;
        if (!f32.empty()) {
          wt = f32.data() + r0 * in;
        } else {
          w.resize(static_cast<size_t>(rows * in));
          for (int64_t i = 0; i < rows * in; ++i) w[i] = half_to_float(f16[r0 * in + i]);
          wt = w.data();
        }
        std::fill(c.begin(), c.end(), 0.0f);
        sgemm_acc(rows, count, in, 1.0f, wt, in, xt.data(), count, c.data(), count);
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t t = 0; t < count; ++t) y[t * out + r0 + i] = c[i * count + t];
      }
    });
  }
};

// A quantized group: one stacked matrix, its fuse scales and member row counts.
struct Quantized {
  int32_t codebook_id = 0;
  double resid_scale = 0;
  int64_t rows = 0, cols = 0;
  std::vector<uint32_t> codes;
  std::vector<float> s_in, s_out;
  double wscale = 0;
  int32_t use_rht = 1;
  std::vector<float> fuse_scales;
  std::vector<int64_t> member_rows;
  std::unique_ptr<qs_qlayer> prepared;  // integer kernels for few tokens

  qs_qlinear_desc desc() const {
    return qs_qlinear_desc{codebook_id, resid_scale, codes.data(), rows, cols,
                           s_in.data(), s_out.data(), wscale, use_rht};
  }

  void forward(const float* x, int64_t count, float* y) const {
    if (count < kGemmTokens) {
      check(qs_qlayer_forward(prepared.get(), x, count, y, QS_KERNEL_AUTO));
    } else {
      const qs_qlinear_desc d = desc();
      check(qs_qlinear_matvec(&d, x, count, y));
    }
    // §7.1 step 6: member i's output rows times fuse_scales[i].
    for (int64_t t = 0; t < count; ++t) {
      int64_t r = 0;
      for (size_t i = 0; i < member_rows.size(); ++i) {
        const float s = fuse_scales[i];
        for (int64_t e = r + member_rows[i]; r < e; ++r) y[t * rows + r] *= s;
      }
    }
  }
};

// The seven linear members of a block, in tensor-kind order (QS_TENSOR_WQ ..), for their biases.
enum Member { kQ, kK, kV, kO, kGate, kUp, kDown, kMembers };

struct Layer {
  std::vector<float> attn_norm, ffn_norm;
  std::vector<float> q_norm, k_norm, post_attn_norm, post_ffn_norm;  // family options (may be empty)
  std::vector<float> bias[kMembers];  // empty: no bias
  int64_t window = 0;                 // sliding-window length; 0: full causal attention
  Dense wq, wk, wv, wo, w_gate, w_up, w_down;
  std::unique_ptr<Quantized> q[4];  // per group, replaces the dense members when set
  std::vector<float> k_cache, v_cache;  // [capacity, kv_dim]
};

struct HessianSum {
  std::vector<double> sum;
  int64_t tokens = 0;
};

}  // namespace
}  // namespace qs

struct qs_model {
  qs_model_config cfg;
  int64_t q_dim, kv_dim;
  qs::Dense embed, lm_head;
  std::vector<float> final_norm;
  std::vector<qs::Layer> layers;
  int64_t cache_len = 0, capacity = 0;
  int32_t hess_begin = 0, hess_end = 0;
  std::vector<qs::HessianSum> hessians;  // (layer - hess_begin) * 4 + group
  std::mutex mutex;
};

namespace qs {
namespace {

const char* kind_name(int32_t kind) {
  static const char* names[] = {"embed", "final_norm", "lm_head", "attn_norm", "ffn_norm", "wq",
                                "wk", "wv", "wo", "w_gate", "w_up", "w_down", "bq", "bk", "bv",
                                "bo", "b_gate", "b_up", "b_down", "q_norm", "k_norm",
                                "post_attn_norm", "post_ffn_norm"};
  return kind >= 0 && kind <= QS_TENSOR_POST_FFN_NORM ? names[kind] : "?";
}

bool is_norm_kind(int32_t kind) {
  return kind == QS_TENSOR_FINAL_NORM || kind == QS_TENSOR_ATTN_NORM || kind == QS_TENSOR_FFN_NORM ||
         kind == QS_TENSOR_Q_NORM || kind == QS_TENSOR_K_NORM || kind == QS_TENSOR_POST_ATTN_NORM ||
         kind == QS_TENSOR_POST_FFN_NORM;
}

// The RoPE table of transformers' modeling_rope_utils for the config's rope_type (written from its
// definitions, in double): inv_freq of the rotary_dim / 2 pairs and the factor on cos and sin.
void rope_table(const qs_model_config& c, std::vector<double>& inv_freq, double& attention_scaling) {
  const int64_t rd = c.rotary_dim > 0 ? c.rotary_dim : c.head_dim;
  inv_freq.resize(static_cast<size_t>(rd / 2));
  for (int64_t i = 0; i < rd / 2; ++i)
    inv_freq[i] = 1.0 / std::pow(c.rope_theta, static_cast<double>(2 * i) / static_cast<double>(rd));
  attention_scaling = 1.0;
  const double factor = c.rope_factor;
  switch (c.rope_type) {
    case QS_ROPE_LINEAR:
      for (double& f : inv_freq) f /= factor;
      break;
    case QS_ROPE_LLAMA3: {
      // Wavelengths longer than original / low_freq_factor are divided by the factor, shorter than
      // original / high_freq_factor kept, and the ones between blended by a linear ramp in
      // original / wavelength.
      const double original = c.rope_original_max_positions;
      const double low_wavelen = original / c.rope_low_freq_factor;
      const double high_wavelen = original / c.rope_high_freq_factor;
      for (double& f : inv_freq) {
        const double wavelen = 2 * kPi / f;
        const double scaled = wavelen > low_wavelen ? f / factor : f;
        if (wavelen < high_wavelen || wavelen > low_wavelen) {
          f = scaled;
        } else {
          const double smooth = (original / wavelen - c.rope_low_freq_factor) /
                                (c.rope_high_freq_factor - c.rope_low_freq_factor);
          f = (1 - smooth) * scaled / factor + smooth * scaled;
        }
      }
      break;
    }
    case QS_ROPE_YARN: {
      // Pair i turns original / (2 pi / inv_freq_i) times over the pre-training context. Pairs that
      // turn more than beta_fast times keep their frequency (extrapolation), pairs that turn fewer
      // than beta_slow times are interpolated (divided by the factor), with a linear ramp over the
      // pair indices between; cos and sin are scaled by the attention factor.
      const double beta_fast = c.rope_beta_fast != 0 ? c.rope_beta_fast : 32.0;
      const double beta_slow = c.rope_beta_slow != 0 ? c.rope_beta_slow : 1.0;
      const double original = c.rope_original_max_positions;
      const auto correction_dim = [&](double rotations) {
        return static_cast<double>(rd) * std::log(original / (rotations * 2 * kPi)) /
               (2 * std::log(c.rope_theta));
      };
      double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
      if (!c.rope_no_truncate) {
        low = std::floor(low);
        high = std::ceil(high);
      }
      low = std::max(low, 0.0);
      high = std::min(high, static_cast<double>(rd - 1));
      if (low == high) high += 0.001;  // transformers' guard against a zero-width ramp
      for (int64_t i = 0; i < rd / 2; ++i) {
        const double ramp = std::min(1.0, std::max(0.0, (static_cast<double>(i) - low) / (high - low)));
        const double extrapolation = 1.0 - ramp;
        inv_freq[i] = inv_freq[i] / factor * (1 - extrapolation) + inv_freq[i] * extrapolation;
      }
      const auto mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
      if (c.rope_attention_factor > 0) attention_scaling = c.rope_attention_factor;
      else if (c.rope_mscale != 0 && c.rope_mscale_all_dim != 0)
        attention_scaling = mscale(factor, c.rope_mscale) / mscale(factor, c.rope_mscale_all_dim);
      else attention_scaling = mscale(factor, 1.0);
      break;
    }
    default: break;
  }
}

int64_t group_cols(const qs_model& m, int32_t group) {
  switch (group) {
    case QS_GROUP_QKV: return m.cfg.dim;
    case QS_GROUP_O: return m.q_dim;
    case QS_GROUP_UPGATE: return m.cfg.dim;
    case QS_GROUP_DOWN: return m.cfg.hidden_dim;
    default: return -1;
  }
}

std::vector<int64_t> group_members(const qs_model& m, int32_t group) {
  switch (group) {
    case QS_GROUP_QKV: return {m.q_dim, m.kv_dim, m.kv_dim};
    case QS_GROUP_O: return {m.cfg.dim};
    case QS_GROUP_UPGATE: return {m.cfg.hidden_dim, m.cfg.hidden_dim};
    default: return {m.cfg.dim};
  }
}

// out may be x (in place).
void rmsnorm(const float* x, const float* w, int64_t n, double eps, float* out) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float inv = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  for (int64_t i = 0; i < n; ++i) out[i] = w[i] * (inv * x[i]);
}

// Rotates the first 2 * inv_freq.size() entries of each head_dim slice of v (heads slices) for
// position pos; cos and sin are multiplied by attention_scaling (YaRN; 1 otherwise).
void rope(float* v, int64_t heads, int64_t hd, int64_t pos, const std::vector<double>& inv_freq,
          double attention_scaling, bool interleaved) {
  const int64_t half = static_cast<int64_t>(inv_freq.size());
  for (int64_t i = 0; i < half; ++i) {
    const double angle = static_cast<double>(pos) * inv_freq[i];
    const float c = static_cast<float>(std::cos(angle) * attention_scaling),
                s = static_cast<float>(std::sin(angle) * attention_scaling);
    for (int64_t h = 0; h < heads; ++h) {
      float* x = v + h * hd;
      float& a = interleaved ? x[2 * i] : x[i];
      float& b = interleaved ? x[2 * i + 1] : x[i + half];
      const float a0 = a, b0 = b;
      a = a0 * c - b0 * s;
      b = a0 * s + b0 * c;
    }
  }
}

void accumulate_hessian(HessianSum& h, const float* x, int64_t count, int64_t n) {
  std::vector<double> xd(static_cast<size_t>(count * n)), xt(static_cast<size_t>(count * n));
  for (int64_t i = 0; i < count * n; ++i) xd[i] = x[i];
  for (int64_t t = 0; t < count; ++t)
    for (int64_t j = 0; j < n; ++j) xt[j * count + t] = xd[t * n + j];
  dgemm_acc(n, n, count, 1.0, xt.data(), count, xd.data(), n, h.sum.data(), n);
  h.tokens += count;
}

void require_layer(const qs_model& m, int32_t layer) {
  require(layer >= 0 && layer < m.cfg.n_layers, "layer = ", layer, " must be in [0, ", m.cfg.n_layers, ")");
}

void require_tokens(const qs_model& m, const int32_t* tokens, int64_t count) {
  for (int64_t t = 0; t < count; ++t)
    require(tokens[t] >= 0 && tokens[t] < m.cfg.vocab_size, "tokens[", t, "] = ", tokens[t],
            " is outside the vocabulary [0, ", m.cfg.vocab_size, ")");
}

void require_layer_complete(const qs_model& m, size_t l) {
  const Layer& L = m.layers[l];
  auto need = [&](bool ok, const char* what) {
    require(ok, "model is incomplete: layer ", l, " tensor ", what, " is not set");
  };
  need(!L.attn_norm.empty(), "attn_norm");
  need(!L.ffn_norm.empty(), "ffn_norm");
  if (m.cfg.qk_norm) {
    need(!L.q_norm.empty(), "q_norm");
    need(!L.k_norm.empty(), "k_norm");
  }
  if (m.cfg.sandwich_norms) {
    need(!L.post_attn_norm.empty(), "post_attn_norm");
    need(!L.post_ffn_norm.empty(), "post_ffn_norm");
  }
  if (!L.q[QS_GROUP_QKV]) {
    need(L.wq.set(), "wq");
    need(L.wk.set(), "wk");
    need(L.wv.set(), "wv");
  }
  if (!L.q[QS_GROUP_O]) need(L.wo.set(), "wo");
  if (!L.q[QS_GROUP_UPGATE]) {
    need(L.w_gate.set(), "w_gate");
    need(L.w_up.set(), "w_up");
  }
  if (!L.q[QS_GROUP_DOWN]) need(L.w_down.set(), "w_down");
}

void require_complete(const qs_model& m) {
  require(m.embed.set(), "model is incomplete: tensor embed is not set");
  require(!m.final_norm.empty(), "model is incomplete: tensor final_norm is not set");
  require(m.cfg.tied_embeddings || m.lm_head.set(), "model is incomplete: tensor lm_head is not set");
  for (size_t l = 0; l < m.layers.size(); ++l) require_layer_complete(m, l);
}

void ensure_capacity(qs_model& m, int64_t needed) {
  if (needed <= m.capacity) return;
  const int64_t cap = std::max(needed, std::max<int64_t>(64, m.capacity * 2));
  for (Layer& L : m.layers) {
    L.k_cache.resize(static_cast<size_t>(cap * m.kv_dim));
    L.v_cache.resize(static_cast<size_t>(cap * m.kv_dim));
  }
  m.capacity = cap;
}

// The embedding rows of `count` tokens (count x dim), times embed_scale when set (Gemma).
void embed(const qs_model& m, const int32_t* tokens, int64_t count, float* x) {
  const int64_t dim = m.cfg.dim;
  for (int64_t t = 0; t < count; ++t) {
    const int64_t tok = tokens[t];
    for (int64_t i = 0; i < dim; ++i)
      x[t * dim + i] = m.embed.f32.empty() ? half_to_float(m.embed.f16[tok * dim + i])
                                           : m.embed.f32[tok * dim + i];
  }
  if (m.cfg.embed_scale != 0) {
    const float scale = static_cast<float>(m.cfg.embed_scale);
    for (int64_t i = 0; i < count * dim; ++i) x[i] *= scale;
  }
}

// v (count x rows) += bias per row, when the member has one.
void add_bias(const std::vector<float>& bias, float* v, int64_t count, int64_t rows) {
  if (bias.empty()) return;
  for (int64_t t = 0; t < count; ++t)
    for (int64_t r = 0; r < rows; ++r) v[t * rows + r] += bias[r];
}

// The FFN's gate activation times up, in place in gate.
void gated_activation(int32_t activation, std::vector<float>& gate, const std::vector<float>& up) {
  switch (activation) {
    case QS_ACTIVATION_GELU_TANH:
      for (size_t i = 0; i < gate.size(); ++i) {
        const double g = gate[i];
        gate[i] = static_cast<float>(0.5 * g * (1.0 + std::tanh(0.7978845608028654 * (g + 0.044715 * g * g * g)))) * up[i];
      }
      break;
    case QS_ACTIVATION_GELU:
      for (size_t i = 0; i < gate.size(); ++i) {
        const double g = gate[i];
        gate[i] = static_cast<float>(0.5 * g * (1.0 + std::erf(g * 0.7071067811865476))) * up[i];
      }
      break;
    default:
      for (size_t i = 0; i < gate.size(); ++i) {
        const float g = gate[i];
        gate[i] = g / (1.0f + std::exp(-g)) * up[i];
      }
  }
}

// Work buffers of one block over `count` tokens, reused across the layers of a pass.
struct BlockScratch {
  std::vector<double> inv_freq;
  double attention_scaling = 1;
  std::vector<float> xb, q, k, v, att, o, gate, up, fused;

  BlockScratch(const qs_model& m, int64_t count) {
    const qs_model_config& c = m.cfg;
    rope_table(c, inv_freq, attention_scaling);
    xb.resize(static_cast<size_t>(count * c.dim));
    q.resize(static_cast<size_t>(count * m.q_dim));
    k.resize(static_cast<size_t>(count * m.kv_dim));
    v.resize(k.size());
    att.resize(q.size());
    o.resize(xb.size());
    gate.resize(static_cast<size_t>(count * c.hidden_dim));
    up.resize(gate.size());
  }
};

// Block l on x (count x dim, in place) at positions start .. start+count-1; its K/V rows go to the
// layer's cache, which must hold start + count positions. Accumulates the layer's Hessians when
// collection covers it. The whole-model pass and the layer-by-layer pass both run this.
void block_forward(qs_model& m, int64_t l, float* x, int64_t count, int64_t start, BlockScratch& s) {
  const qs_model_config& c = m.cfg;
  const int64_t dim = c.dim, hd = c.head_dim, heads = c.n_heads, kvh = c.n_kv_heads;
  const int64_t hidden = c.hidden_dim, qd = m.q_dim, kvd = m.kv_dim;
  const double scale = c.attn_scale > 0 ? c.attn_scale : 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<float>&xb = s.xb, &q = s.q, &k = s.k, &v = s.v, &att = s.att, &o = s.o,
                     &gate = s.gate, &up = s.up, &fused = s.fused;
  const std::vector<double>& inv_freq = s.inv_freq;
  const size_t xsize = static_cast<size_t>(count * dim);
  Layer& L = m.layers[l];
  HessianSum* hs = nullptr;
  if (l >= m.hess_begin && l < m.hess_end) hs = &m.hessians[(l - m.hess_begin) * 4];
  // Attention block.
  for (int64_t t = 0; t < count; ++t) rmsnorm(&x[t * dim], L.attn_norm.data(), dim, c.norm_eps, &xb[t * dim]);
  if (hs) accumulate_hessian(hs[QS_GROUP_QKV], xb.data(), count, dim);
  if (const Quantized* g = L.q[QS_GROUP_QKV].get()) {
    fused.resize(static_cast<size_t>(count * g->rows));
    g->forward(xb.data(), count, fused.data());
    for (int64_t t = 0; t < count; ++t) {
      const float* f = &fused[t * g->rows];
      std::copy(f, f + qd, &q[t * qd]);
      std::copy(f + qd, f + qd + kvd, &k[t * kvd]);
      std::copy(f + qd + kvd, f + qd + 2 * kvd, &v[t * kvd]);
    }
  } else {
    L.wq.forward(xb.data(), count, q.data());
    L.wk.forward(xb.data(), count, k.data());
    L.wv.forward(xb.data(), count, v.data());
  }
  add_bias(L.bias[kQ], q.data(), count, qd);
  add_bias(L.bias[kK], k.data(), count, kvd);
  add_bias(L.bias[kV], v.data(), count, kvd);
  if (c.qk_norm) {  // Qwen 3: RMSNorm over each head, before RoPE
    for (int64_t i = 0; i < count * heads; ++i) rmsnorm(&q[i * hd], L.q_norm.data(), hd, c.norm_eps, &q[i * hd]);
    for (int64_t i = 0; i < count * kvh; ++i) rmsnorm(&k[i * hd], L.k_norm.data(), hd, c.norm_eps, &k[i * hd]);
  }
  for (int64_t t = 0; t < count; ++t) {
    const int64_t pos = start + t;
    rope(&q[t * qd], heads, hd, pos, inv_freq, s.attention_scaling, c.rope_interleaved != 0);
    rope(&k[t * kvd], kvh, hd, pos, inv_freq, s.attention_scaling, c.rope_interleaved != 0);
    std::copy(&k[t * kvd], &k[t * kvd] + kvd, &L.k_cache[pos * kvd]);
    std::copy(&v[t * kvd], &v[t * kvd] + kvd, &L.v_cache[pos * kvd]);
  }
  const int64_t group = heads / kvh;
  // Tasks of (token, a range of query heads), one range per thread: each task streams through the
  // cached rows once for its heads, reading one contiguous part of every row (a range per thread
  // keeps those parts a few pages long; 4-head parts ran 25 % slower at 1,024 positions). Chunks of
  // at least ~32k multiply-adds, so that short contexts stay on the calling thread.
  const int64_t per_task = (heads + num_threads() - 1) / num_threads();
  const int64_t chunks = (heads + per_task - 1) / per_task;
  const int64_t att_grain =
      std::max<int64_t>(1, 32768 / std::max<int64_t>(1, (start + count) * hd * per_task));
  const int32_t kernel = resolve_kernel(QS_KERNEL_AUTO);
  parallel_for(0, count * chunks, att_grain, [&](int64_t lo, int64_t hi) {
    std::vector<float> score(static_cast<size_t>(per_task * (start + count)));
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t t = task / chunks, h0 = task % chunks * per_task;
      const int64_t end = start + t + 1;
      const int64_t first = L.window > 0 ? std::max<int64_t>(0, end - L.window) : 0;
      attend_heads(&q[t * qd], L.k_cache.data(), L.v_cache.data(), kvd, first, end, hd, scale,
                   c.attn_softcap, h0, std::min(heads, h0 + per_task), group, score.data(),
                   &att[t * qd], kernel);
    }
  });
  if (hs) accumulate_hessian(hs[QS_GROUP_O], att.data(), count, qd);
  if (const Quantized* g = L.q[QS_GROUP_O].get()) g->forward(att.data(), count, o.data());
  else L.wo.forward(att.data(), count, o.data());
  add_bias(L.bias[kO], o.data(), count, dim);
  if (c.sandwich_norms)
    for (int64_t t = 0; t < count; ++t) rmsnorm(&o[t * dim], L.post_attn_norm.data(), dim, c.norm_eps, &o[t * dim]);
  for (size_t i = 0; i < xsize; ++i) x[i] += o[i];

  // FFN block: w_down(act(w_gate x) * w_up x).
  for (int64_t t = 0; t < count; ++t) rmsnorm(&x[t * dim], L.ffn_norm.data(), dim, c.norm_eps, &xb[t * dim]);
  if (hs) accumulate_hessian(hs[QS_GROUP_UPGATE], xb.data(), count, dim);
  if (const Quantized* g = L.q[QS_GROUP_UPGATE].get()) {
    fused.resize(static_cast<size_t>(count * g->rows));
    g->forward(xb.data(), count, fused.data());
    for (int64_t t = 0; t < count; ++t) {
      const float* f = &fused[t * g->rows];
      std::copy(f, f + hidden, &up[t * hidden]);
      std::copy(f + hidden, f + 2 * hidden, &gate[t * hidden]);
    }
  } else {
    L.w_gate.forward(xb.data(), count, gate.data());
    L.w_up.forward(xb.data(), count, up.data());
  }
  add_bias(L.bias[kGate], gate.data(), count, hidden);
  add_bias(L.bias[kUp], up.data(), count, hidden);
  gated_activation(c.activation, gate, up);
  if (hs) accumulate_hessian(hs[QS_GROUP_DOWN], gate.data(), count, hidden);
  if (const Quantized* g = L.q[QS_GROUP_DOWN].get()) g->forward(gate.data(), count, o.data());
  else L.w_down.forward(gate.data(), count, o.data());
  add_bias(L.bias[kDown], o.data(), count, dim);
  if (c.sandwich_norms)
    for (int64_t t = 0; t < count; ++t) rmsnorm(&o[t * dim], L.post_ffn_norm.data(), dim, c.norm_eps, &o[t * dim]);
  for (size_t i = 0; i < xsize; ++i) x[i] += o[i];
}

void forward(qs_model& m, const int32_t* tokens, int64_t count, int64_t start, float* logits,
             bool all_logits) {
  const qs_model_config& c = m.cfg;
  const int64_t dim = c.dim;
  ensure_capacity(m, start + count);
  std::vector<float> x(static_cast<size_t>(count * dim));
  embed(m, tokens, count, x.data());
  BlockScratch s(m, count);
  for (int64_t l = 0; l < c.n_layers; ++l) block_forward(m, l, x.data(), count, start, s);
  m.cache_len = start + count;

  std::vector<float>& xb = s.xb;
  const int64_t first = all_logits ? 0 : count - 1, rows = count - first;
  for (int64_t t = first; t < count; ++t) rmsnorm(&x[t * dim], m.final_norm.data(), dim, c.norm_eps, &xb[(t - first) * dim]);
  const Dense& head = c.tied_embeddings ? m.embed : m.lm_head;
  head.forward(xb.data(), rows, logits);
  if (c.final_softcap > 0)  // Gemma 2
    for (int64_t i = 0; i < rows * c.vocab_size; ++i)
      logits[i] = static_cast<float>(c.final_softcap * std::tanh(logits[i] / c.final_softcap));
}

// The family fields of a config (see quipsharp.h); the Llama fields are checked by the caller.
void require_family_options(const qs_model_config& c) {
  require(c.activation >= QS_ACTIVATION_SILU && c.activation <= QS_ACTIVATION_GELU, "activation = ",
          c.activation, " is unknown");
  for (int32_t flag : {c.norm_unit_offset, c.qk_norm, c.sandwich_norms, c.rope_no_truncate})
    require(flag == 0 || flag == 1, "a family flag is ", flag, "; flags are 0 or 1");
  require(c.rotary_dim >= 0 && c.rotary_dim <= c.head_dim && c.rotary_dim % 2 == 0, "rotary_dim = ",
          c.rotary_dim, " must be even and in [0, head_dim = ", c.head_dim, "]");
  require(c.rope_type >= QS_ROPE_DEFAULT && c.rope_type <= QS_ROPE_YARN, "rope_type = ", c.rope_type,
          " is unknown");
  const auto finite_nonneg = [](double v) { return std::isfinite(v) && v >= 0; };
  for (double v : {c.rope_factor, c.rope_low_freq_factor, c.rope_high_freq_factor,
                   c.rope_original_max_positions, c.rope_attention_factor, c.rope_beta_fast,
                   c.rope_beta_slow, c.rope_mscale, c.rope_mscale_all_dim, c.embed_scale, c.attn_scale,
                   c.attn_softcap, c.final_softcap})
    require(finite_nonneg(v), "a RoPE, scale or soft-cap field is ", v, "; they are finite and >= 0");
  if (c.rope_type != QS_ROPE_DEFAULT)
    require(c.rope_factor > 0, "rope_factor = ", c.rope_factor, " must be positive for rope_type ", c.rope_type);
  if (c.rope_type == QS_ROPE_LLAMA3)
    require(c.rope_original_max_positions > 0 && c.rope_low_freq_factor > 0 &&
                c.rope_high_freq_factor > c.rope_low_freq_factor,
            "llama3 RoPE needs original_max_positions > 0 (", c.rope_original_max_positions,
            ") and 0 < low_freq_factor (", c.rope_low_freq_factor, ") < high_freq_factor (",
            c.rope_high_freq_factor, ")");
  if (c.rope_type == QS_ROPE_YARN)
    require(c.rope_original_max_positions > 0 && c.rope_theta > 1, "yarn RoPE needs ",
            "original_max_positions > 0 (", c.rope_original_max_positions, ") and rope_theta > 1");
}

}  // namespace
}  // namespace qs

extern "C" int32_t qs_rope_frequencies(const qs_model_config* config, double* inv_freq,
                                       double* attention_scaling) {
  return qs::guard([&] {
    qs::require_not_null(config, "config");
    qs::require_not_null(inv_freq, "inv_freq");
    qs::require_not_null(attention_scaling, "attention_scaling");
    qs::require(config->head_dim > 0 && config->head_dim % 2 == 0, "head_dim = ", config->head_dim,
                " must be positive and even");
    qs::require(std::isfinite(config->rope_theta) && config->rope_theta > 0, "rope_theta = ",
                config->rope_theta, " must be positive");
    qs::require_family_options(*config);
    std::vector<double> table;
    qs::rope_table(*config, table, *attention_scaling);
    std::copy(table.begin(), table.end(), inv_freq);
  });
}

extern "C" int32_t qs_model_create(const qs_model_config* config, qs_model** out) {
  return qs::guard([&] {
    qs::require_not_null(config, "config");
    qs::require_not_null(out, "out");
    const qs_model_config& c = *config;
    qs::require(c.dim > 0 && c.hidden_dim > 0 && c.n_layers > 0 && c.n_heads > 0 &&
                    c.n_kv_heads > 0 && c.head_dim > 0 && c.vocab_size > 0,
                "model sizes must be positive: dim ", c.dim, ", hidden_dim ", c.hidden_dim,
                ", layers ", c.n_layers, ", heads ", c.n_heads, ", kv_heads ", c.n_kv_heads,
                ", head_dim ", c.head_dim, ", vocab ", c.vocab_size);
    qs::require(c.n_heads % c.n_kv_heads == 0, "n_heads = ", c.n_heads,
                " must be a multiple of n_kv_heads = ", c.n_kv_heads);
    qs::require(c.head_dim % 2 == 0, "head_dim = ", c.head_dim, " must be even (RoPE pairs)");
    qs::require(std::isfinite(c.rope_theta) && c.rope_theta > 0, "rope_theta = ", c.rope_theta,
                " must be positive");
    qs::require(std::isfinite(c.norm_eps) && c.norm_eps > 0, "norm_eps = ", c.norm_eps,
                " must be positive");
    qs::require_family_options(c);
    auto m = std::make_unique<qs_model>();
    m->cfg = c;
    m->q_dim = static_cast<int64_t>(c.n_heads) * c.head_dim;
    m->kv_dim = static_cast<int64_t>(c.n_kv_heads) * c.head_dim;
    m->layers.resize(static_cast<size_t>(c.n_layers));
    *out = m.release();
  });
}

extern "C" void qs_model_free(qs_model* model) { delete model; }

extern "C" int32_t qs_model_set_tensor(qs_model* model, int32_t kind, int32_t layer,
                                       int32_t src_dtype, const void* data, int64_t count,
                                       int32_t store_dtype) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require(kind >= QS_TENSOR_EMBED && kind <= QS_TENSOR_POST_FFN_NORM, "tensor kind = ", kind, " is unknown");
    require(src_dtype >= QS_DTYPE_F32 && src_dtype <= QS_DTYPE_BF16, "src_dtype = ", src_dtype, " is unknown");
    require(store_dtype == QS_DTYPE_F32 || store_dtype == QS_DTYPE_F16, "store_dtype = ", store_dtype,
            " must be F32 or F16");
    const qs_model_config& c = model->cfg;
    const bool per_layer = kind >= QS_TENSOR_ATTN_NORM;
    if (per_layer) require_layer(*model, layer);
    const char* name = kind_name(kind);
    if (kind == QS_TENSOR_Q_NORM || kind == QS_TENSOR_K_NORM)
      require(c.qk_norm != 0, "tensor ", name, " needs a config with qk_norm = 1");
    if (kind == QS_TENSOR_POST_ATTN_NORM || kind == QS_TENSOR_POST_FFN_NORM)
      require(c.sandwich_norms != 0, "tensor ", name, " needs a config with sandwich_norms = 1");
    const int64_t dim = c.dim, hidden = c.hidden_dim;
    int64_t out = 0, in = 0;  // in = 0: a vector
    switch (kind) {
      case QS_TENSOR_EMBED: case QS_TENSOR_LM_HEAD: out = c.vocab_size; in = dim; break;
      case QS_TENSOR_FINAL_NORM: case QS_TENSOR_ATTN_NORM: case QS_TENSOR_FFN_NORM: out = dim; break;
      case QS_TENSOR_WQ: out = model->q_dim; in = dim; break;
      case QS_TENSOR_WK: case QS_TENSOR_WV: out = model->kv_dim; in = dim; break;
      case QS_TENSOR_WO: out = dim; in = model->q_dim; break;
      case QS_TENSOR_W_GATE: case QS_TENSOR_W_UP: out = hidden; in = dim; break;
      case QS_TENSOR_W_DOWN: out = dim; in = hidden; break;
      case QS_TENSOR_BQ: out = model->q_dim; break;
      case QS_TENSOR_BK: case QS_TENSOR_BV: out = model->kv_dim; break;
      case QS_TENSOR_B_GATE: case QS_TENSOR_B_UP: out = hidden; break;
      case QS_TENSOR_Q_NORM: case QS_TENSOR_K_NORM: out = c.head_dim; break;
      default: out = dim; break;  // BO, B_DOWN, POST_ATTN_NORM, POST_FFN_NORM
    }
    const int64_t expected = in == 0 ? out : out * in;
    require(count == expected, "tensor ", name, per_layer ? " of layer " : "", per_layer ? std::to_string(layer) : "",
            " has ", count, " values but the config needs ", expected);
    require_not_null(data, "data");
    for (int64_t i = 0; i < count; ++i) {
      const float val = source_value(src_dtype, data, i);
      if (!std::isfinite(val))
        fail(QS_ERR_NON_FINITE, "tensor ", name, per_layer ? " of layer " : "",
             per_layer ? std::to_string(layer) : "", " has a non-finite value at index ", i, ": ", val);
    }
    if (in == 0) {
      Layer* L = per_layer ? &model->layers[layer] : nullptr;
      std::vector<float>* dst = nullptr;
      switch (kind) {
        case QS_TENSOR_FINAL_NORM: dst = &model->final_norm; break;
        case QS_TENSOR_ATTN_NORM: dst = &L->attn_norm; break;
        case QS_TENSOR_FFN_NORM: dst = &L->ffn_norm; break;
        case QS_TENSOR_Q_NORM: dst = &L->q_norm; break;
        case QS_TENSOR_K_NORM: dst = &L->k_norm; break;
        case QS_TENSOR_POST_ATTN_NORM: dst = &L->post_attn_norm; break;
        case QS_TENSOR_POST_FFN_NORM: dst = &L->post_ffn_norm; break;
        default: dst = &L->bias[kind - QS_TENSOR_BQ]; break;  // biases, in member order
      }
      // Gemma's norms scale by (1 + w), which transformers computes in float: kept so here.
      const float offset = is_norm_kind(kind) && c.norm_unit_offset ? 1.0f : 0.0f;
      dst->resize(static_cast<size_t>(count));
      for (int64_t i = 0; i < count; ++i) (*dst)[i] = offset + source_value(src_dtype, data, i);
      return;
    }
    Dense d;
    d.out = out;
    d.in = in;
    if (store_dtype == QS_DTYPE_F32) {
      d.f32.resize(static_cast<size_t>(count));
      parallel_for(0, count, 1 << 16, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) d.f32[i] = source_value(src_dtype, data, i);
      });
    } else {
      d.f16.resize(static_cast<size_t>(count));
      parallel_for(0, count, 1 << 16, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i)
          d.f16[i] = src_dtype == QS_DTYPE_F16 ? static_cast<const uint16_t*>(data)[i]
                                               : float_to_half(source_value(src_dtype, data, i));
      });
    }
    Layer* L = per_layer ? &model->layers[layer] : nullptr;
    switch (kind) {
      case QS_TENSOR_EMBED: model->embed = std::move(d); break;
      case QS_TENSOR_LM_HEAD: model->lm_head = std::move(d); break;
      case QS_TENSOR_WQ: L->wq = std::move(d); break;
      case QS_TENSOR_WK: L->wk = std::move(d); break;
      case QS_TENSOR_WV: L->wv = std::move(d); break;
      case QS_TENSOR_WO: L->wo = std::move(d); break;
      case QS_TENSOR_W_GATE: L->w_gate = std::move(d); break;
      case QS_TENSOR_W_UP: L->w_up = std::move(d); break;
      default: L->w_down = std::move(d); break;
    }
  });
}

extern "C" int32_t qs_model_set_quantized(qs_model* model, int32_t layer, int32_t group,
                                          const qs_qlinear_desc* desc, const float* fuse_scales,
                                          int32_t n_fuse) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require_layer(*model, layer);
    require(group >= QS_GROUP_QKV && group <= QS_GROUP_DOWN, "group = ", group, " is unknown");
    require_not_null(desc, "desc");
    const std::vector<int64_t> members = group_members(*model, group);
    int64_t total = 0;
    for (int64_t r : members) total += r;
    const int64_t rows = desc->rows, cols = desc->cols;
    require(rows == total && cols == group_cols(*model, group), "layer ", layer, " group ", group,
            " is ", rows, " x ", cols, " but the config needs ", total, " x ", group_cols(*model, group));
    require(n_fuse == static_cast<int32_t>(members.size()), "n_fuse = ", n_fuse, " but group ",
            group, " has ", members.size(), " members");
    require_not_null(fuse_scales, "fuse_scales");
    require_finite(fuse_scales, n_fuse, "fuse_scales");
    auto q = std::make_unique<Quantized>();
    q->prepared = make_qlayer(desc);  // validates the description in full
    const QShape shape = qlinear_shape(rows, cols, desc->use_rht);
    q->codebook_id = desc->codebook_id;
    q->resid_scale = desc->resid_scale;
    q->rows = rows;
    q->cols = cols;
    q->codes.assign(desc->codes, desc->codes + shape.code_count());
    q->s_in.assign(desc->s_in, desc->s_in + shape.rht_cols);
    q->s_out.assign(desc->s_out, desc->s_out + shape.rht_rows);
    q->wscale = desc->wscale;
    q->use_rht = desc->use_rht;
    q->fuse_scales.assign(fuse_scales, fuse_scales + n_fuse);
    q->member_rows = members;
    Layer& L = model->layers[layer];
    switch (group) {
      case QS_GROUP_QKV: L.wq = Dense(); L.wk = Dense(); L.wv = Dense(); break;
      case QS_GROUP_O: L.wo = Dense(); break;
      case QS_GROUP_UPGATE: L.w_gate = Dense(); L.w_up = Dense(); break;
      default: L.w_down = Dense(); break;
    }
    L.q[group] = std::move(q);
  });
}

extern "C" int32_t qs_model_set_attention_window(qs_model* model, int32_t layer, int32_t window) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require_layer(*model, layer);
    require(window >= 0, "window = ", window, " must be >= 0 (0: no window)");
    model->layers[layer].window = window;
  });
}

extern "C" int32_t qs_model_forward(qs_model* model, const int32_t* tokens, int64_t count,
                                    int64_t start_pos, float* logits, int32_t all_logits) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require(count > 0, "count = ", count, " must be positive");
    require_not_null(tokens, "tokens");
    require_not_null(logits, "logits");
    require(start_pos >= 0 && start_pos <= model->cache_len, "start_pos = ", start_pos,
            " must be in [0, ", model->cache_len, "] (the positions already in the KV cache)");
    require(start_pos <= INT32_MAX - count, "start_pos + count is too large");
    require_tokens(*model, tokens, count);
    require_complete(*model);
    forward(*model, tokens, count, start_pos, logits, all_logits != 0);
  });
}

extern "C" int32_t qs_model_embed(qs_model* model, const int32_t* tokens, int64_t count,
                                  float* hidden) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require(count > 0, "count = ", count, " must be positive");
    require_not_null(tokens, "tokens");
    require_not_null(hidden, "hidden");
    require_tokens(*model, tokens, count);
    require(model->embed.set(), "model is incomplete: tensor embed is not set");
    embed(*model, tokens, count, hidden);
  });
}

extern "C" int32_t qs_model_layer_forward(qs_model* model, int32_t layer, const float* hidden_in,
                                          int64_t count, float* hidden_out) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require_layer(*model, layer);
    require(count > 0 && count <= INT32_MAX, "count = ", count, " must be in [1, 2^31)");
    require_not_null(hidden_in, "hidden_in");
    require_not_null(hidden_out, "hidden_out");
    const int64_t n = count * model->cfg.dim;
    require_finite(hidden_in, n, "hidden_in");
    require_layer_complete(*model, static_cast<size_t>(layer));
    Layer& L = model->layers[layer];
    // Only this layer's cache grows: a model holding one layer's weights stays one layer's size.
    const size_t kv = static_cast<size_t>(count * model->kv_dim);
    if (L.k_cache.size() < kv) {
      L.k_cache.resize(kv);
      L.v_cache.resize(kv);
    }
    model->cache_len = 0;  // the other layers' caches no longer hold this sequence
    std::vector<float> x(hidden_in, hidden_in + n);
    BlockScratch s(*model, count);
    block_forward(*model, layer, x.data(), count, 0, s);
    std::copy(x.begin(), x.end(), hidden_out);
  });
}

extern "C" int32_t qs_model_hessian_start(qs_model* model, int32_t layer_begin, int32_t layer_end) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    require(layer_begin >= 0 && layer_begin < layer_end && layer_end <= model->cfg.n_layers,
            "layers [", layer_begin, ", ", layer_end, ") must lie in [0, ", model->cfg.n_layers, ")");
    std::vector<HessianSum> sums(static_cast<size_t>((layer_end - layer_begin) * 4));
    for (size_t i = 0; i < sums.size(); ++i) {
      const int64_t n = group_cols(*model, static_cast<int32_t>(i % 4));
      sums[i].sum.assign(static_cast<size_t>(n * n), 0.0);
    }
    model->hessians = std::move(sums);
    model->hess_begin = layer_begin;
    model->hess_end = layer_end;
  });
}

extern "C" int32_t qs_model_hessian_read(const qs_model* model, int32_t layer, int32_t group,
                                         double* out, int64_t* tokens) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    require_not_null(out, "out");
    require_not_null(tokens, "tokens");
    require(group >= QS_GROUP_QKV && group <= QS_GROUP_DOWN, "group = ", group, " is unknown");
    require(layer >= model->hess_begin && layer < model->hess_end, "layer ", layer,
            " has no Hessian being collected (collecting [", model->hess_begin, ", ",
            model->hess_end, "))");
    const HessianSum& h = model->hessians[(layer - model->hess_begin) * 4 + group];
    std::copy(h.sum.begin(), h.sum.end(), out);
    *tokens = h.tokens;
  });
}

extern "C" int32_t qs_model_hessian_stop(qs_model* model) {
  using namespace qs;
  return guard([&] {
    require_not_null(model, "model");
    std::lock_guard<std::mutex> lock(model->mutex);
    model->hessians.clear();
    model->hessians.shrink_to_fit();
    model->hess_begin = model->hess_end = 0;
  });
}

extern "C" int64_t qs_model_group_cols(const qs_model* model, int32_t group) {
  return model == nullptr ? -1 : qs::group_cols(*model, group);
}

extern "C" int64_t qs_model_head_bytes(const qs_model* model) {
  if (model == nullptr) return 0;
  return model->cfg.tied_embeddings ? model->embed.bytes() : model->lm_head.bytes();
}

extern "C" int64_t qs_model_weight_bytes(const qs_model* model) {
  if (model == nullptr) return 0;
  int64_t total = static_cast<int64_t>(model->final_norm.size() * 4);
  total += qs_model_head_bytes(model);
  for (const qs::Layer& L : model->layers) {
    for (const std::vector<float>* v : {&L.attn_norm, &L.ffn_norm, &L.q_norm, &L.k_norm, &L.post_attn_norm, &L.post_ffn_norm})
      total += static_cast<int64_t>(v->size() * 4);
    for (const std::vector<float>& b : L.bias) total += static_cast<int64_t>(b.size() * 4);
    for (const qs::Dense* d : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) total += d->bytes();
    for (const auto& q : L.q)
      if (q) total += qs_qlayer_weight_bytes(q->prepared.get());
  }
  return total;
}
