// The Llama engine (qs_model_*) against a naive float64 forward pass written here from the
// architecture's definition: both RoPE conventions, grouped-query attention, tied and untied output,
// prefill vs token-by-token with the KV cache, the Hessian accumulators against sums of x x^T of the
// reference's layer inputs, and a quantized model against a dense model holding its decoded weights.
// The family options (biases, q/k norms, GeGLU, (1 + w) norms, embedding scale, sandwich norms, soft
// caps, sliding windows, partial rotary dimensions, RoPE scalings) run through the same checks; the
// RoPE tables are checked against values printed by transformers 5.17's modeling_rope_utils.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

// qs_model_create's object, or nullptr (after a failed check) when it fails.
qs_model* create_model(const qs_model_config* config) {
  qs_model* m = nullptr;
  CHECK_OK(qs_model_create(config, &m));
  return m;
}

// A refused config: the status, a message naming `what`, and *out left as it was.
void check_refused(const qs_model_config& config, const char* what) {
  int sentinel_target = 0;
  qs_model* const sentinel = reinterpret_cast<qs_model*>(&sentinel_target);
  qs_model* out = sentinel;
  CHECK_STATUS(qs_model_create(&config, &out), QS_ERR_INVALID_ARGUMENT);
  CHECK(out == sentinel);
  if (std::string(qs_last_error()).find(what) == std::string::npos)
    std::fprintf(stderr, "message \"%s\" lacks \"%s\"\n", qs_last_error(), what);
  CHECK(std::string(qs_last_error()).find(what) != std::string::npos);
}

struct Weights {
  qs_model_config cfg;
  std::vector<double> embed, lm_head, final_norm;
  struct Layer {
    std::vector<double> attn_norm, ffn_norm, wq, wk, wv, wo, gate, up, down;
    std::vector<double> bias[7];  // q, k, v, o, gate, up, down; empty = none
    std::vector<double> q_norm, k_norm, post_attn_norm, post_ffn_norm;
    int32_t window = 0;
  };
  std::vector<Layer> layers;
};

std::vector<double> random_vec(qs_test::Rng& rng, int64_t n, double sd, double mean = 0) {
  std::vector<double> v(n);
  for (double& x : v) x = mean + sd * rng.normal();
  return v;
}

Weights make_weights(int interleaved, int tied, uint64_t seed, int32_t head_dim = 4) {
  qs_test::Rng rng(seed);
  Weights w;
  w.cfg = qs_model_config{};
  w.cfg.dim = 16;
  w.cfg.hidden_dim = 20;  // not a multiple of 8: the quantized down projection pads
  w.cfg.n_layers = 2;
  w.cfg.n_heads = 4;
  w.cfg.n_kv_heads = 2;
  w.cfg.head_dim = head_dim;
  w.cfg.vocab_size = 11;
  w.cfg.rope_interleaved = interleaved;
  w.cfg.tied_embeddings = tied;
  w.cfg.rope_theta = 10000;
  w.cfg.norm_eps = 1e-5;
  const int64_t d = 16, h = 20, q = 4 * head_dim, kv = 2 * head_dim, v = 11;
  w.embed = random_vec(rng, v * d, 1.0);
  if (!tied) w.lm_head = random_vec(rng, v * d, 0.5);
  w.final_norm = random_vec(rng, d, 0.2, 1.0);
  for (int l = 0; l < 2; ++l) {
    Weights::Layer L;
    L.attn_norm = random_vec(rng, d, 0.2, 1.0);
    L.ffn_norm = random_vec(rng, d, 0.2, 1.0);
    L.wq = random_vec(rng, q * d, 0.4);
    L.wk = random_vec(rng, kv * d, 0.4);
    L.wv = random_vec(rng, kv * d, 0.4);
    L.wo = random_vec(rng, d * q, 0.3);
    L.gate = random_vec(rng, h * d, 0.3);
    L.up = random_vec(rng, h * d, 0.3);
    L.down = random_vec(rng, d * h, 0.3);
    w.layers.push_back(L);
  }
  return w;
}

// The family options on top of a Llama of head_dim 8 (q width 32 != dim 16): each family's
// configuration as the Java loader sets it, with random biases and norms.
Weights family_weights(const std::string& family, uint64_t seed) {
  const bool tied = family == "gemma" || family == "gemma2" || family == "qwen2";
  Weights w = make_weights(0, tied, seed, 8);
  qs_test::Rng rng(seed * 31 + 7);
  qs_model_config& c = w.cfg;
  const int64_t d = c.dim, q = 4 * c.head_dim, kv = 2 * c.head_dim, h = c.hidden_dim;
  const int64_t rows[7] = {q, kv, kv, d, h, h, d};
  for (Weights::Layer& L : w.layers) {
    if (family == "qwen2" || family == "llama-bias")
      for (int b = 0; b < (family == "qwen2" ? 3 : 7); ++b) L.bias[b] = random_vec(rng, rows[b], 0.5);
    if (family == "qwen3") {
      L.q_norm = random_vec(rng, c.head_dim, 0.3, 1.0);
      L.k_norm = random_vec(rng, c.head_dim, 0.3, 1.0);
    }
    if (family == "gemma" || family == "gemma2") {  // (1 + w) norms: w around 0
      for (auto* n : {&L.attn_norm, &L.ffn_norm})
        for (double& v : *n) v -= 1.0;
    }
    if (family == "gemma2") {
      L.post_attn_norm = random_vec(rng, d, 0.3);
      L.post_ffn_norm = random_vec(rng, d, 0.3);
    }
  }
  if (family == "gemma" || family == "gemma2") {
    for (double& v : w.final_norm) v -= 1.0;
    c.norm_unit_offset = 1;
    c.activation = QS_ACTIVATION_GELU_TANH;
    c.embed_scale = 4.0;
  }
  if (family == "qwen3") c.qk_norm = 1;
  if (family == "gemma2") {
    c.sandwich_norms = 1;
    c.attn_scale = 1 / std::sqrt(12.0);
    c.attn_softcap = 1.5;
    c.final_softcap = 2.5;
    w.layers[0].window = 5;  // alternate layers, as Gemma 2
  }
  if (family == "mistral")
    for (Weights::Layer& L : w.layers) L.window = 5;
  if (family == "phi3") {
    c.rotary_dim = 4;  // partial_rotary_factor 0.5
    w.layers[1].window = 4;
    c.activation = QS_ACTIVATION_GELU;
  }
  if (family == "llama-bias") {
    c.rope_type = QS_ROPE_YARN;
    c.rope_factor = 4;
    c.rope_original_max_positions = 8;
  }
  if (family == "qwen2") {
    c.rope_type = QS_ROPE_LLAMA3;
    c.rope_theta = 500000;
    c.rope_factor = 8;
    c.rope_low_freq_factor = 1;
    c.rope_high_freq_factor = 4;
    c.rope_original_max_positions = 16;
  }
  if (family == "qwen3") {
    c.rope_type = QS_ROPE_LINEAR;
    c.rope_factor = 3;
  }
  return w;
}

std::vector<double> matvec(const std::vector<double>& w, int64_t out, int64_t in, const std::vector<double>& x) {
  std::vector<double> y(out, 0.0);
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) y[r] += w[r * in + c] * x[c];
  return y;
}

// RMSNorm of x (x.size() / g.size() slices of g.size(), e.g. the heads of q); unit_offset: by (1 + g).
std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& g, double eps,
                            bool unit_offset = false) {
  const size_t n = g.size();
  std::vector<double> out(x.size());
  for (size_t s0 = 0; s0 < x.size(); s0 += n) {
    double ss = 0;
    for (size_t i = 0; i < n; ++i) ss += x[s0 + i] * x[s0 + i];
    const double inv = 1.0 / std::sqrt(ss / n + eps);
    for (size_t i = 0; i < n; ++i) out[s0 + i] = (unit_offset ? 1 + g[i] : g[i]) * x[s0 + i] * inv;
  }
  return out;
}

void add(std::vector<double>& v, const std::vector<double>& bias) {
  for (size_t i = 0; i < bias.size(); ++i) v[i] += bias[i];
}

// RoPE of the first 2 * inv_freq.size() entries of every head, cos and sin times `scaling`.
void rope(std::vector<double>& v, int64_t heads, int64_t hd, int64_t pos, const std::vector<double>& inv_freq,
          double scaling, bool interleaved) {
  const int64_t half = inv_freq.size();
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < half; ++i) {
      const double f = pos * inv_freq[i];
      const int64_t a = h * hd + (interleaved ? 2 * i : i), b = h * hd + (interleaved ? 2 * i + 1 : i + half);
      const double x0 = v[a], x1 = v[b], c = std::cos(f) * scaling, s = std::sin(f) * scaling;
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
}

double activation(int32_t kind, double g) {
  switch (kind) {
    case QS_ACTIVATION_GELU_TANH: return 0.5 * g * (1 + std::tanh(std::sqrt(2 / M_PI) * (g + 0.044715 * g * g * g)));
    case QS_ACTIVATION_GELU: return 0.5 * g * (1 + std::erf(g / std::sqrt(2.0)));
    default: return g / (1 + std::exp(-g));
  }
}

double cap(double v, double c) { return c > 0 ? c * std::tanh(v / c) : v; }

// The default table, or the engine's table for the scalings (checked against transformers by
// test_rope_tables).
std::vector<double> inv_freq_of(const qs_model_config& c, double* scaling) {
  const int64_t rd = c.rotary_dim > 0 ? c.rotary_dim : c.head_dim;
  std::vector<double> f(rd / 2);
  *scaling = 1;
  if (c.rope_type == QS_ROPE_DEFAULT) {
    for (int64_t i = 0; i < rd / 2; ++i) f[i] = 1.0 / std::pow(c.rope_theta, 2.0 * i / rd);
  } else {
    CHECK_OK(qs_rope_frequencies(&c, f.data(), scaling));
  }
  return f;
}

// Logits (count x vocab) of the whole sequence; inputs[l][g] collects each group's input vectors.
std::vector<double> reference_forward(const Weights& w, const std::vector<int32_t>& toks,
                                      std::vector<std::vector<std::vector<double>>>* inputs) {
  const qs_model_config& c = w.cfg;
  const int64_t d = c.dim, hd = c.head_dim, H = c.n_heads, KV = c.n_kv_heads, q = H * hd, kv = KV * hd;
  const int64_t T = toks.size();
  const bool offset = c.norm_unit_offset != 0;
  double scaling = 1;
  const std::vector<double> inv_freq = inv_freq_of(c, &scaling);
  const double att_scale = c.attn_scale > 0 ? c.attn_scale : 1 / std::sqrt(double(hd));
  std::vector<std::vector<double>> x(T);
  for (int64_t t = 0; t < T; ++t) {
    x[t].assign(&w.embed[toks[t] * d], &w.embed[toks[t] * d] + d);
    if (c.embed_scale > 0)
      for (double& v : x[t]) v *= c.embed_scale;
  }
  if (inputs) inputs->assign(c.n_layers, std::vector<std::vector<double>>(4));
  for (int l = 0; l < c.n_layers; ++l) {
    const Weights::Layer& L = w.layers[l];
    std::vector<std::vector<double>> K(T), V(T), Q(T);
    for (int64_t t = 0; t < T; ++t) {
      const auto xb = rmsnorm(x[t], L.attn_norm, c.norm_eps, offset);
      if (inputs) (*inputs)[l][0].insert((*inputs)[l][0].end(), xb.begin(), xb.end());
      Q[t] = matvec(L.wq, q, d, xb);
      K[t] = matvec(L.wk, kv, d, xb);
      V[t] = matvec(L.wv, kv, d, xb);
      add(Q[t], L.bias[0]);
      add(K[t], L.bias[1]);
      add(V[t], L.bias[2]);
      if (c.qk_norm) {
        Q[t] = rmsnorm(Q[t], L.q_norm, c.norm_eps, offset);
        K[t] = rmsnorm(K[t], L.k_norm, c.norm_eps, offset);
      }
      rope(Q[t], H, hd, t, inv_freq, scaling, c.rope_interleaved);
      rope(K[t], KV, hd, t, inv_freq, scaling, c.rope_interleaved);
    }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> att(q, 0.0);
      const int64_t first = L.window > 0 ? std::max<int64_t>(0, t + 1 - L.window) : 0;
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / (H / KV);
        std::vector<double> s(t + 1);
        double mx = -1e300, tot = 0;
        for (int64_t p = first; p <= t; ++p) {
          double dot = 0;
          for (int64_t i = 0; i < hd; ++i) dot += Q[t][h * hd + i] * K[p][g * hd + i];
          s[p] = cap(dot * att_scale, c.attn_softcap);
          mx = std::max(mx, s[p]);
        }
        for (int64_t p = first; p <= t; ++p) tot += (s[p] = std::exp(s[p] - mx));
        for (int64_t p = first; p <= t; ++p)
          for (int64_t i = 0; i < hd; ++i) att[h * hd + i] += s[p] / tot * V[p][g * hd + i];
      }
      if (inputs) (*inputs)[l][1].insert((*inputs)[l][1].end(), att.begin(), att.end());
      auto o = matvec(L.wo, d, q, att);
      add(o, L.bias[3]);
      if (c.sandwich_norms) o = rmsnorm(o, L.post_attn_norm, c.norm_eps, offset);
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
      const auto xb = rmsnorm(x[t], L.ffn_norm, c.norm_eps, offset);
      if (inputs) (*inputs)[l][2].insert((*inputs)[l][2].end(), xb.begin(), xb.end());
      auto g = matvec(L.gate, c.hidden_dim, d, xb);
      auto u = matvec(L.up, c.hidden_dim, d, xb);
      add(g, L.bias[4]);
      add(u, L.bias[5]);
      for (int64_t i = 0; i < c.hidden_dim; ++i) g[i] = activation(c.activation, g[i]) * u[i];
      if (inputs) (*inputs)[l][3].insert((*inputs)[l][3].end(), g.begin(), g.end());
      auto dn = matvec(L.down, d, c.hidden_dim, g);
      add(dn, L.bias[6]);
      if (c.sandwich_norms) dn = rmsnorm(dn, L.post_ffn_norm, c.norm_eps, offset);
      for (int64_t i = 0; i < d; ++i) x[t][i] += dn[i];
    }
  }
  std::vector<double> logits;
  for (int64_t t = 0; t < T; ++t) {
    const auto xb = rmsnorm(x[t], w.final_norm, c.norm_eps, offset);
    auto lg = matvec(c.tied_embeddings ? w.embed : w.lm_head, c.vocab_size, d, xb);
    for (double& v : lg) v = cap(v, c.final_softcap);
    logits.insert(logits.end(), lg.begin(), lg.end());
  }
  return logits;
}

void set(qs_model* m, int32_t kind, int32_t layer, const std::vector<double>& v, int32_t store) {
  std::vector<float> f(v.begin(), v.end());
  CHECK_OK(qs_model_set_tensor(m, kind, layer, QS_DTYPE_F32, f.data(), f.size(), store));
}

// The tensors of layer l (nine, plus the family's biases, norms and window).
void set_layer(qs_model* m, const Weights& w, int l, int32_t store) {
    const Weights::Layer& L = w.layers[l];
    for (int32_t b = 0; b < 7; ++b)
      if (!L.bias[b].empty()) set(m, QS_TENSOR_BQ + b, l, L.bias[b], store);
    if (!L.q_norm.empty()) set(m, QS_TENSOR_Q_NORM, l, L.q_norm, store);
    if (!L.k_norm.empty()) set(m, QS_TENSOR_K_NORM, l, L.k_norm, store);
    if (!L.post_attn_norm.empty()) set(m, QS_TENSOR_POST_ATTN_NORM, l, L.post_attn_norm, store);
    if (!L.post_ffn_norm.empty()) set(m, QS_TENSOR_POST_FFN_NORM, l, L.post_ffn_norm, store);
    if (L.window > 0) CHECK_OK(qs_model_set_attention_window(m, l, L.window));
    set(m, QS_TENSOR_ATTN_NORM, l, L.attn_norm, store);
    set(m, QS_TENSOR_FFN_NORM, l, L.ffn_norm, store);
    set(m, QS_TENSOR_WQ, l, L.wq, store);
    set(m, QS_TENSOR_WK, l, L.wk, store);
    set(m, QS_TENSOR_WV, l, L.wv, store);
    set(m, QS_TENSOR_WO, l, L.wo, store);
    set(m, QS_TENSOR_W_GATE, l, L.gate, store);
    set(m, QS_TENSOR_W_UP, l, L.up, store);
    set(m, QS_TENSOR_W_DOWN, l, L.down, store);
}

qs_model* build(const Weights& w, int32_t store) {
  qs_model* m = create_model(&w.cfg);
  CHECK(m != nullptr);
  set(m, QS_TENSOR_EMBED, 0, w.embed, store);
  set(m, QS_TENSOR_FINAL_NORM, 0, w.final_norm, store);
  if (!w.cfg.tied_embeddings) set(m, QS_TENSOR_LM_HEAD, 0, w.lm_head, store);
  for (int l = 0; l < w.cfg.n_layers; ++l) set_layer(m, w, l, store);
  return m;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::fabs(x));
  return m;
}

double max_diff(const std::vector<double>& a, const std::vector<float>& b, size_t offset = 0) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(a[offset + i] - b[i]));
  return m;
}

void check_forward(const Weights& w, const char* label);

void test_forward(int interleaved, int tied) {
  check_forward(make_weights(interleaved, tied, 100 + interleaved * 2 + tied), tied ? "tied" : "untied");
}

// Prefill (with Hessians of layer 1), token by token and a split prefill against the reference.
void check_forward(const Weights& w, const char* label) {
  const int interleaved = w.cfg.rope_interleaved, tied = w.cfg.tied_embeddings;
  const std::vector<int32_t> toks = {1, 5, 3, 9, 0, 10, 2, 7, 7, 4, 8, 6, 1, 3};
  std::vector<std::vector<std::vector<double>>> inputs;
  const std::vector<double> ref = reference_forward(w, toks, &inputs);
  const double scale = max_abs(ref);
  const int64_t T = toks.size(), V = w.cfg.vocab_size;
  for (int32_t store : {QS_DTYPE_F32, QS_DTYPE_F16}) {
    qs_model* m = build(w, store);
    const double tol = (store == QS_DTYPE_F32 ? 1e-5 : 3e-3) * scale;
    // Prefill with all logits; Hessians of layer 1 only.
    CHECK_OK(qs_model_hessian_start(m, 1, 2));
    std::vector<float> all(T * V);
    CHECK_OK(qs_model_forward(m, toks.data(), T, 0, all.data(), 1));
    const double e1 = max_diff(ref, all);
    if (!(e1 <= tol)) std::fprintf(stderr, "%s prefill rope %d tied %d store %d: %.3g > %.3g\n", label, interleaved, tied, store, e1, tol);
    CHECK(e1 <= tol);
    for (int32_t g = 0; g < 4; ++g) {
      const int64_t n = qs_model_group_cols(m, g);
      std::vector<double> h(n * n);
      int64_t count = 0;
      CHECK_OK(qs_model_hessian_read(m, 1, g, h.data(), &count));
      CHECK(count == T);
      const std::vector<double>& X = inputs[1][g];
      double worst = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < n; ++j) {
          double s = 0;
          for (int64_t t = 0; t < T; ++t) s += X[t * n + i] * X[t * n + j];
          worst = std::max(worst, std::fabs(s - h[i * n + j]));
          mag = std::max(mag, std::fabs(s));
          CHECK(h[i * n + j] == h[j * n + i]);  // symmetric by construction
        }
      if (!(worst <= (store == QS_DTYPE_F32 ? 1e-5 : 5e-3) * mag))
        std::fprintf(stderr, "hessian group %d: %.3g (max %.3g)\n", g, worst, mag);
      CHECK(worst <= (store == QS_DTYPE_F32 ? 1e-5 : 5e-3) * mag);
    }
    double dummy[1];
    int64_t cnt;
    CHECK_STATUS(qs_model_hessian_read(m, 0, 0, dummy, &cnt), QS_ERR_INVALID_ARGUMENT);
    CHECK_OK(qs_model_hessian_stop(m));
    // Token by token through the KV cache, then a split prefill (4 + rest).
    std::vector<float> one(V);
    for (int64_t t = 0; t < T; ++t) {
      CHECK_OK(qs_model_forward(m, &toks[t], 1, t, one.data(), 0));
      const double et = max_diff(ref, one, t * V);
      if (!(et <= tol)) std::fprintf(stderr, "%s step %lld store %d: %.3g > %.3g\n", label, (long long)t, store, et, tol);
      CHECK(et <= tol);
    }
    std::vector<float> first(4 * V), rest(V);
    CHECK_OK(qs_model_forward(m, toks.data(), 4, 0, first.data(), 1));
    CHECK_OK(qs_model_forward(m, toks.data() + 4, T - 4, 4, rest.data(), 0));
    CHECK(max_diff(ref, first) <= tol);
    CHECK(max_diff(ref, rest, (T - 1) * V) <= tol);
    qs_model_free(m);
  }
}

// Quantizes every group of one layer, stacked and row-normalized (§1.4 step 1); the quantized model
// must equal a dense model holding the decoded weights (Ŵ slices times their fuse scales).
void test_quantized(Weights w) {
  qs_model* qm = build(w, QS_DTYPE_F32);
  Weights dense = w;
  const int64_t d = w.cfg.dim, h = w.cfg.hidden_dim, qd = w.cfg.n_heads * w.cfg.head_dim,
                kvd = w.cfg.n_kv_heads * w.cfg.head_dim;
  struct Group {
    int32_t id;
    std::vector<std::vector<double>*> members;
    std::vector<int64_t> rows;
    int64_t cols;
  };
  Weights::Layer& L = w.layers[1];
  Weights::Layer& D = dense.layers[1];
  Group groups[] = {{QS_GROUP_QKV, {&L.wq, &L.wk, &L.wv}, {qd, kvd, kvd}, d},
                    {QS_GROUP_O, {&L.wo}, {d}, qd},
                    {QS_GROUP_UPGATE, {&L.up, &L.gate}, {h, h}, d},
                    {QS_GROUP_DOWN, {&L.down}, {d}, h}};
  std::vector<double>* dense_members[4][3] = {{&D.wq, &D.wk, &D.wv}, {&D.wo}, {&D.up, &D.gate}, {&D.down}};
  for (const Group& g : groups) {
    int64_t rows = 0;
    for (int64_t r : g.rows) rows += r;
    std::vector<float> stacked;
    std::vector<float> fuse;
    for (size_t i = 0; i < g.members.size(); ++i) {
      double ss = 0;
      for (double v : *g.members[i]) ss += v * v;
      const double rms = std::sqrt(ss / g.members[i]->size());
      fuse.push_back(static_cast<float>(rms));
      for (double v : *g.members[i]) stacked.push_back(static_cast<float>(v / rms));
    }
    int64_t shape[3];
    CHECK_OK(qs_qlinear_shape(rows, g.cols, 1, shape));
    std::vector<uint32_t> codes(shape[0] * shape[2] / 8);
    std::vector<float> s_in(shape[1]), s_out(shape[0]), dec(rows * g.cols);
    qs_quant_params p{};
    p.codebook_id = QS_CODEBOOK_E8P12RVQ4B;
    p.rounding = QS_ROUNDING_NEAREST;
    p.use_rht = 1;
    p.damping = 0.01;
    p.seed = 9;
    qs_quant_result result{};
    CHECK_OK(qs_quantize_matrix(stacked.data(), rows, g.cols, nullptr, 0, nullptr, &p, codes.data(),
                                s_in.data(), s_out.data(), &result));
    const qs_qlinear_desc d{p.codebook_id, 0.0, codes.data(), rows, g.cols, s_in.data(), s_out.data(),
                            result.wscale, 1};
    CHECK_OK(qs_model_set_quantized(qm, 1, g.id, &d, fuse.data(), fuse.size()));
    CHECK_OK(qs_qlinear_decode(&d, dec.data()));
    int64_t r0 = 0;
    for (size_t i = 0; i < g.members.size(); ++i) {
      std::vector<double>& dst = *dense_members[g.id][i];
      for (int64_t e = 0; e < g.rows[i] * g.cols; ++e) dst[e] = double(dec[r0 * g.cols + e]) * fuse[i];
      r0 += g.rows[i];
    }
  }
  // Bad group shape / fuse count.
  std::vector<uint32_t> c(64);
  std::vector<float> ones(64, 1.0f);
  const qs_qlinear_desc o_wrong{QS_CODEBOOK_E8P12, 0, c.data(), 8, 16, ones.data(), ones.data(), 1.0, 1};
  CHECK_STATUS(qs_model_set_quantized(qm, 1, QS_GROUP_O, &o_wrong, ones.data(), 1), QS_ERR_INVALID_ARGUMENT);
  const qs_qlinear_desc qkv{QS_CODEBOOK_E8P12, 0, c.data(), 32, 16, ones.data(), ones.data(), 1.0, 1};
  CHECK_STATUS(qs_model_set_quantized(qm, 1, QS_GROUP_QKV, &qkv, ones.data(), 2), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_model_set_quantized(qm, 1, QS_GROUP_QKV, nullptr, ones.data(), 3), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("desc must not be null") != std::string::npos);
  qs_model* dm = build(dense, QS_DTYPE_F32);
  const std::vector<int32_t> toks = {1, 5, 3, 9, 0, 10, 2};
  const std::vector<double> ref = reference_forward(dense, toks, nullptr);
  const int64_t T = toks.size(), V = 11;
  std::vector<float> a(T * V), b(T * V), one(V);
  CHECK_OK(qs_model_forward(qm, toks.data(), T, 0, a.data(), 1));
  CHECK_OK(qs_model_forward(dm, toks.data(), T, 0, b.data(), 1));
  const double scale = max_abs(ref);
  CHECK(max_diff(ref, b) <= 1e-5 * scale);
  const double e = max_diff(ref, a);
  if (!(e <= 1e-4 * scale)) std::fprintf(stderr, "quantized prefill: %.3g (scale %.3g)\n", e, scale);
  CHECK(e <= 1e-4 * scale);
  // Generation path (integer kernels, int16 activations): looser.
  for (int64_t t = 0; t < T; ++t) {
    CHECK_OK(qs_model_forward(qm, &toks[t], 1, t, one.data(), 0));
    const double et = max_diff(ref, one, t * V);
    if (!(et <= 5e-3 * scale)) std::fprintf(stderr, "quantized step %lld: %.3g\n", (long long)t, et);
    CHECK(et <= 5e-3 * scale);
  }
  CHECK(qs_model_weight_bytes(qm) < qs_model_weight_bytes(dm));
  qs_model_free(qm);
  qs_model_free(dm);
}

void test_bad_input() {
  Weights w = make_weights(1, 1, 5);
  qs_model_config bad = w.cfg;
  bad.n_kv_heads = 3;
  check_refused(bad, "n_kv_heads");
  CHECK_STATUS(qs_model_create(nullptr, nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_model_create(&w.cfg, nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("out must not be null") != std::string::npos);
  qs_model* m = create_model(&w.cfg);
  std::vector<int32_t> toks = {1, 2};
  std::vector<float> logits(2 * 11);
  CHECK_STATUS(qs_model_forward(m, toks.data(), 2, 0, logits.data(), 1), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("incomplete") != std::string::npos);
  std::vector<float> v(16 * 20, 0.5f);
  CHECK_STATUS(qs_model_set_tensor(m, QS_TENSOR_W_DOWN, 0, QS_DTYPE_F32, v.data(), 15 * 20, QS_DTYPE_F32),
               QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("w_down of layer 0") != std::string::npos);
  v[7] = NAN;
  CHECK_STATUS(qs_model_set_tensor(m, QS_TENSOR_W_DOWN, 1, QS_DTYPE_F32, v.data(), 16 * 20, QS_DTYPE_F32),
               QS_ERR_NON_FINITE);
  CHECK(std::string(qs_last_error()).find("index 7") != std::string::npos);
  CHECK_STATUS(qs_model_set_tensor(m, QS_TENSOR_W_DOWN, 2, QS_DTYPE_F32, v.data(), 16 * 20, QS_DTYPE_F32),
               QS_ERR_INVALID_ARGUMENT);
  qs_model_free(m);
  m = build(w, QS_DTYPE_F32);
  toks = {1, 11};
  CHECK_STATUS(qs_model_forward(m, toks.data(), 2, 0, logits.data(), 1), QS_ERR_INVALID_ARGUMENT);
  toks = {1, 2};
  CHECK_STATUS(qs_model_forward(m, toks.data(), 2, 3, logits.data(), 1), QS_ERR_INVALID_ARGUMENT);
  qs_model_free(m);
  qs_model_free(nullptr);
}

// Layer by layer (qs_model_embed + qs_model_layer_forward, each layer in a model that holds only
// that layer's weights) against the whole-model pass: the same hidden states and the same Hessians,
// bit for bit, over several windows; the last layer's output run through the final norm and head
// of the whole model gives its logits.
void test_layer_by_layer(const Weights& w, int32_t store) {
  const qs_model_config& c = w.cfg;
  const int64_t T = 7, d = c.dim, V = c.vocab_size;
  const std::vector<std::vector<int32_t>> windows = {{1, 4, 9, 3, 3, 10, 0}, {2, 2, 5, 8, 1, 6, 7}};
  qs_model* whole = build(w, store);
  CHECK_OK(qs_model_hessian_start(whole, 0, c.n_layers));
  std::vector<float> logits(T * V);
  for (const auto& win : windows) CHECK_OK(qs_model_forward(whole, win.data(), T, 0, logits.data(), 1));

  std::vector<std::vector<float>> hidden(windows.size(), std::vector<float>(T * d));
  qs_model* first = create_model(&c);
  set(first, QS_TENSOR_EMBED, 0, w.embed, store);
  for (size_t i = 0; i < windows.size(); ++i) CHECK_OK(qs_model_embed(first, windows[i].data(), T, hidden[i].data()));
  qs_model_free(first);
  for (int l = 0; l < c.n_layers; ++l) {
    qs_model* one = create_model(&c);  // only layer l is set
    set_layer(one, w, l, store);
    if (l + 1 < c.n_layers) {
      CHECK_STATUS(qs_model_layer_forward(one, l + 1, hidden[0].data(), T, hidden[0].data()),
                   QS_ERR_INVALID_ARGUMENT);
      CHECK(std::string(qs_last_error()).find("incomplete") != std::string::npos);
    }
    CHECK_OK(qs_model_hessian_start(one, l, l + 1));
    for (auto& h : hidden) CHECK_OK(qs_model_layer_forward(one, l, h.data(), T, h.data()));
    for (int32_t g = 0; g < 4; ++g) {
      const int64_t n = qs_model_group_cols(one, g);
      std::vector<double> a(n * n), b(n * n);
      int64_t ca = 0, cb = 0;
      CHECK_OK(qs_model_hessian_read(one, l, g, a.data(), &ca));
      CHECK_OK(qs_model_hessian_read(whole, l, g, b.data(), &cb));
      CHECK(ca == cb && ca == T * static_cast<int64_t>(windows.size()));
      CHECK(a == b);
    }
    qs_model_free(one);
  }
  // The whole model's logits of the last window against the head applied to the last layer's
  // layer-by-layer output.
  std::vector<float> last(T * V);
  CHECK_OK(qs_model_forward(whole, windows.back().data(), T, 0, last.data(), 1));
  std::vector<float> hl(T * V);
  for (int64_t t = 0; t < T; ++t) {
    // logits = head · rmsnorm(x) by hand in double, compared loosely.
    const std::vector<double> x(hidden.back().begin() + t * d, hidden.back().begin() + (t + 1) * d);
    const std::vector<double> xn = rmsnorm(x, w.final_norm, c.norm_eps, c.norm_unit_offset != 0);
    for (int64_t v = 0; v < V; ++v) {
      double z = 0;
      for (int64_t i = 0; i < d; ++i) z += (c.tied_embeddings ? w.embed : w.lm_head)[v * d + i] * xn[i];
      hl[t * V + v] = static_cast<float>(cap(z, c.final_softcap));
    }
  }
  CHECK(max_diff(std::vector<double>(last.begin(), last.end()), hl) <= (store == QS_DTYPE_F32 ? 1e-4 : 5e-2));
  // Bad input.
  std::vector<float> x(T * d, 0.1f);
  CHECK_STATUS(qs_model_layer_forward(whole, c.n_layers, x.data(), T, x.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_model_layer_forward(whole, 0, x.data(), 0, x.data()), QS_ERR_INVALID_ARGUMENT);
  x[5] = NAN;
  CHECK_STATUS(qs_model_layer_forward(whole, 0, x.data(), T, x.data()), QS_ERR_NON_FINITE);
  std::vector<int32_t> badtok = {1, 11};
  CHECK_STATUS(qs_model_embed(whole, badtok.data(), 2, x.data()), QS_ERR_INVALID_ARGUMENT);
  qs_model* empty = create_model(&c);
  CHECK_STATUS(qs_model_embed(empty, badtok.data(), 1, x.data()), QS_ERR_INVALID_ARGUMENT);
  qs_model_free(empty);
  CHECK_OK(qs_model_hessian_stop(whole));
  qs_model_free(whole);
}

}  // namespace

// Attention splits the heads into one range per thread: logits must not depend on the thread count.
void test_threads_identical() {
  const Weights w = make_weights(0, 0, 321);
  const std::vector<int32_t> toks = {1, 5, 3, 9, 0, 10, 2, 7, 7};
  const int64_t T = toks.size(), V = w.cfg.vocab_size;
  const int32_t original = qs_get_num_threads();
  std::vector<float> reference;
  for (int32_t threads = 1; threads <= 4; ++threads) {
    CHECK_OK(qs_set_num_threads(threads));
    qs_model* m = build(w, QS_DTYPE_F32);
    std::vector<float> all(T * V);
    CHECK_OK(qs_model_forward(m, toks.data(), T, 0, all.data(), 1));
    std::vector<float> one(V);  // then token by token over the cache
    for (int64_t t = 0; t < T; ++t) {
      CHECK_OK(qs_model_forward(m, &toks[t], 1, t, one.data(), 0));
      all.insert(all.end(), one.begin(), one.end());
    }
    if (threads == 1) reference = all;
    CHECK(all == reference);
    qs_model_free(m);
  }
  CHECK_OK(qs_set_num_threads(original));
}

// qs_rope_frequencies against the tables transformers 5.17 computes (ROPE_INIT_FUNCTIONS, float32,
// printed to 9 digits) for the same settings.
void test_rope_tables() {
  struct Table {
    int32_t type, head_dim;
    double theta, factor, low, high, original, beta_fast, beta_slow, mscale, mscale_all_dim;
    int32_t no_truncate;
    std::vector<double> inv_freq;
    double scaling;
  };
  const Table tables[] = {
      {QS_ROPE_LLAMA3, 8, 500000, 8, 1, 4, 16, 0, 0, 0, 0, 0,
       {0.576056361, 0.00470075384, 0.000176776681, 6.64786967e-06}, 1.0},
      {QS_ROPE_YARN, 16, 10000, 4, 0, 0, 64, 0, 0, 0, 0, 0,
       {1.0, 0.237170815, 0.049999997, 0.00790569466, 0.00249999994, 0.000790569466, 0.000250000012,
        7.90569466e-05},
       1.138629436111989},
      {QS_ROPE_YARN, 16, 20000, 8, 0, 0, 32, 8, 2, 1.5, 0.5, 1,
       {1.0, 0.0362477675, 0.0105112055, 0.00304806186, 0.000883883506, 0.000256310421, 7.43254423e-05,
        2.15530526e-05},
       1.188359976202698},
      {QS_ROPE_LINEAR, 8, 10000, 4, 0, 0, 0, 0, 0, 0, 0, 0, {0.25, 0.0250000004, 0.00249999994, 0.000250000012}, 1.0},
  };
  for (const Table& t : tables) {
    qs_model_config c{};
    c.head_dim = t.head_dim;
    c.rope_theta = t.theta;
    c.rope_type = t.type;
    c.rope_factor = t.factor;
    c.rope_low_freq_factor = t.low;
    c.rope_high_freq_factor = t.high;
    c.rope_original_max_positions = t.original;
    c.rope_beta_fast = t.beta_fast;
    c.rope_beta_slow = t.beta_slow;
    c.rope_mscale = t.mscale;
    c.rope_mscale_all_dim = t.mscale_all_dim;
    c.rope_no_truncate = t.no_truncate;
    std::vector<double> f(t.head_dim / 2);
    double scaling = 0;
    CHECK_OK(qs_rope_frequencies(&c, f.data(), &scaling));
    for (size_t i = 0; i < f.size(); ++i) {
      // float32 tables rounded to 9 digits: 1e-6 relative covers both roundings.
      if (!(std::fabs(f[i] - t.inv_freq[i]) <= 1e-6 * t.inv_freq[i]))
        std::fprintf(stderr, "rope type %d inv_freq[%zu] = %.9g, transformers %.9g\n", t.type, i, f[i], t.inv_freq[i]);
      CHECK(std::fabs(f[i] - t.inv_freq[i]) <= 1e-6 * t.inv_freq[i]);
    }
    CHECK(std::fabs(scaling - t.scaling) <= 1e-12);
  }
  qs_model_config bad{};
  bad.head_dim = 8;
  bad.rope_theta = 10000;
  bad.rope_type = QS_ROPE_LLAMA3;  // factor and frequencies missing
  std::vector<double> f(4);
  double scaling;
  CHECK_STATUS(qs_rope_frequencies(&bad, f.data(), &scaling), QS_ERR_INVALID_ARGUMENT);
  bad.rope_type = 9;
  CHECK_STATUS(qs_rope_frequencies(&bad, f.data(), &scaling), QS_ERR_INVALID_ARGUMENT);
}

// Bad family input: options the config lacks, windows, flags out of range.
void test_family_bad_input() {
  Weights w = make_weights(0, 0, 3);
  qs_model* m = build(w, QS_DTYPE_F32);
  std::vector<float> v(4, 1.0f);
  CHECK_STATUS(qs_model_set_tensor(m, QS_TENSOR_Q_NORM, 0, QS_DTYPE_F32, v.data(), 4, QS_DTYPE_F32),
               QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("qk_norm") != std::string::npos);
  CHECK_STATUS(qs_model_set_tensor(m, QS_TENSOR_POST_FFN_NORM, 0, QS_DTYPE_F32, v.data(), 4, QS_DTYPE_F32),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_model_set_tensor(m, QS_TENSOR_BK, 0, QS_DTYPE_F32, v.data(), 4, QS_DTYPE_F32),
               QS_ERR_INVALID_ARGUMENT);  // kv width is 8
  CHECK(std::string(qs_last_error()).find("bk of layer 0") != std::string::npos);
  CHECK_STATUS(qs_model_set_attention_window(m, 0, -1), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_model_set_attention_window(m, 2, 4), QS_ERR_INVALID_ARGUMENT);
  qs_model_free(m);
  qs_model* q3 = build(family_weights("qwen3", 4), QS_DTYPE_F32);
  qs_model_free(q3);
  qs_model_config c = family_weights("qwen3", 4).cfg;
  c.activation = 7;
  check_refused(c, "activation");
  c = family_weights("qwen3", 4).cfg;
  c.rotary_dim = 3;
  check_refused(c, "rotary_dim");
  c.rotary_dim = 0;
  c.attn_softcap = -1;
  check_refused(c, "soft-cap field is -1");
  // A q/k-norm config without its norms is incomplete.
  Weights q = family_weights("qwen3", 4);
  q.layers[1].k_norm.clear();
  qs_model* missing = build(q, QS_DTYPE_F32);
  std::vector<int32_t> toks = {1, 2};
  std::vector<float> logits(2 * 11);
  CHECK_STATUS(qs_model_forward(missing, toks.data(), 2, 0, logits.data(), 1), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("layer 1 tensor k_norm") != std::string::npos);
  qs_model_free(missing);
}

int main() {
  test_threads_identical();
  for (int interleaved : {0, 1})
    for (int tied : {0, 1}) test_forward(interleaved, tied);
  test_quantized(make_weights(0, 0, 77));
  test_bad_input();
  test_layer_by_layer(make_weights(0, 1, 9), QS_DTYPE_F32);
  test_layer_by_layer(make_weights(0, 1, 9), QS_DTYPE_F16);
  test_rope_tables();
  uint64_t seed = 500;
  for (const char* family : {"llama-bias", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "phi3"}) {
    const Weights w = family_weights(family, ++seed);
    check_forward(w, family);
    // Head dimension 8 and biases make the generation path's 8-bit activation rounding exceed the
    // step bound of the Llama case; 16-bit activations keep it within (the family code is the same
    // on both paths: the prefill check holds at 1e-4).
    const int32_t bits = qs_get_activation_bits();
    CHECK_OK(qs_set_activation_bits(16));
    test_quantized(w);
    CHECK_OK(qs_set_activation_bits(bits));
    test_layer_by_layer(w, QS_DTYPE_F32);
  }
  test_family_bad_input();
  TEST_MAIN_END();
}
