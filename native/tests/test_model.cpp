// The Llama engine (qs_model_*) against a naive float64 forward pass written here from the
// architecture's definition: both RoPE conventions, grouped-query attention, tied and untied output,
// prefill vs token-by-token with the KV cache, the Hessian accumulators against sums of x x^T of the
// reference's layer inputs, and a quantized model against a dense model holding its decoded weights.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

struct Weights {
  qs_model_config cfg;
  std::vector<double> embed, lm_head, final_norm;
  struct Layer {
    std::vector<double> attn_norm, ffn_norm, wq, wk, wv, wo, gate, up, down;
  };
  std::vector<Layer> layers;
};

std::vector<double> random_vec(qs_test::Rng& rng, int64_t n, double sd, double mean = 0) {
  std::vector<double> v(n);
  for (double& x : v) x = mean + sd * rng.normal();
  return v;
}

Weights make_weights(int interleaved, int tied, uint64_t seed) {
  qs_test::Rng rng(seed);
  Weights w;
  w.cfg = qs_model_config{};
  w.cfg.dim = 16;
  w.cfg.hidden_dim = 20;  // not a multiple of 8: the quantized down projection pads
  w.cfg.n_layers = 2;
  w.cfg.n_heads = 4;
  w.cfg.n_kv_heads = 2;
  w.cfg.head_dim = 4;
  w.cfg.vocab_size = 11;
  w.cfg.rope_interleaved = interleaved;
  w.cfg.tied_embeddings = tied;
  w.cfg.rope_theta = 10000;
  w.cfg.norm_eps = 1e-5;
  const int64_t d = 16, h = 20, q = 16, kv = 8, v = 11;
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

std::vector<double> matvec(const std::vector<double>& w, int64_t out, int64_t in, const std::vector<double>& x) {
  std::vector<double> y(out, 0.0);
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) y[r] += w[r * in + c] * x[c];
  return y;
}

std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& g, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> out(x.size());
  for (size_t i = 0; i < x.size(); ++i) out[i] = g[i] * x[i] * inv;
  return out;
}

void rope(std::vector<double>& v, int64_t heads, int64_t hd, int64_t pos, double theta, bool interleaved) {
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i) {
      const double f = pos / std::pow(theta, 2.0 * i / hd);
      const int64_t a = h * hd + (interleaved ? 2 * i : i), b = h * hd + (interleaved ? 2 * i + 1 : i + hd / 2);
      const double x0 = v[a], x1 = v[b];
      v[a] = x0 * std::cos(f) - x1 * std::sin(f);
      v[b] = x0 * std::sin(f) + x1 * std::cos(f);
    }
}

// Logits (count x vocab) of the whole sequence; inputs[l][g] collects each group's input vectors.
std::vector<double> reference_forward(const Weights& w, const std::vector<int32_t>& toks,
                                      std::vector<std::vector<std::vector<double>>>* inputs) {
  const qs_model_config& c = w.cfg;
  const int64_t d = c.dim, hd = c.head_dim, H = c.n_heads, KV = c.n_kv_heads, q = H * hd, kv = KV * hd;
  const int64_t T = toks.size();
  std::vector<std::vector<double>> x(T);
  for (int64_t t = 0; t < T; ++t) x[t].assign(&w.embed[toks[t] * d], &w.embed[toks[t] * d] + d);
  if (inputs) inputs->assign(c.n_layers, std::vector<std::vector<double>>(4));
  for (int l = 0; l < c.n_layers; ++l) {
    const Weights::Layer& L = w.layers[l];
    std::vector<std::vector<double>> K(T), V(T), Q(T);
    for (int64_t t = 0; t < T; ++t) {
      const auto xb = rmsnorm(x[t], L.attn_norm, c.norm_eps);
      if (inputs) (*inputs)[l][0].insert((*inputs)[l][0].end(), xb.begin(), xb.end());
      Q[t] = matvec(L.wq, q, d, xb);
      K[t] = matvec(L.wk, kv, d, xb);
      V[t] = matvec(L.wv, kv, d, xb);
      rope(Q[t], H, hd, t, c.rope_theta, c.rope_interleaved);
      rope(K[t], KV, hd, t, c.rope_theta, c.rope_interleaved);
    }
    for (int64_t t = 0; t < T; ++t) {
      std::vector<double> att(q, 0.0);
      for (int64_t h = 0; h < H; ++h) {
        const int64_t g = h / (H / KV);
        std::vector<double> s(t + 1);
        double mx = -1e300, tot = 0;
        for (int64_t p = 0; p <= t; ++p) {
          double dot = 0;
          for (int64_t i = 0; i < hd; ++i) dot += Q[t][h * hd + i] * K[p][g * hd + i];
          s[p] = dot / std::sqrt(double(hd));
          mx = std::max(mx, s[p]);
        }
        for (double& v : s) tot += (v = std::exp(v - mx));
        for (int64_t p = 0; p <= t; ++p)
          for (int64_t i = 0; i < hd; ++i) att[h * hd + i] += s[p] / tot * V[p][g * hd + i];
      }
      if (inputs) (*inputs)[l][1].insert((*inputs)[l][1].end(), att.begin(), att.end());
      const auto o = matvec(L.wo, d, q, att);
      for (int64_t i = 0; i < d; ++i) x[t][i] += o[i];
      const auto xb = rmsnorm(x[t], L.ffn_norm, c.norm_eps);
      if (inputs) (*inputs)[l][2].insert((*inputs)[l][2].end(), xb.begin(), xb.end());
      auto g = matvec(L.gate, c.hidden_dim, d, xb);
      const auto u = matvec(L.up, c.hidden_dim, d, xb);
      for (int64_t i = 0; i < c.hidden_dim; ++i) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      if (inputs) (*inputs)[l][3].insert((*inputs)[l][3].end(), g.begin(), g.end());
      const auto dn = matvec(L.down, d, c.hidden_dim, g);
      for (int64_t i = 0; i < d; ++i) x[t][i] += dn[i];
    }
  }
  std::vector<double> logits;
  for (int64_t t = 0; t < T; ++t) {
    const auto xb = rmsnorm(x[t], w.final_norm, c.norm_eps);
    const auto lg = matvec(c.tied_embeddings ? w.embed : w.lm_head, c.vocab_size, d, xb);
    logits.insert(logits.end(), lg.begin(), lg.end());
  }
  return logits;
}

void set(qs_model* m, int32_t kind, int32_t layer, const std::vector<double>& v, int32_t store) {
  std::vector<float> f(v.begin(), v.end());
  CHECK_OK(qs_model_set_tensor(m, kind, layer, QS_DTYPE_F32, f.data(), f.size(), store));
}

// The nine tensors of layer l.
void set_layer(qs_model* m, const Weights& w, int l, int32_t store) {
    const Weights::Layer& L = w.layers[l];
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
  qs_model* m = qs_model_create(&w.cfg);
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

void test_forward(int interleaved, int tied) {
  const Weights w = make_weights(interleaved, tied, 100 + interleaved * 2 + tied);
  const std::vector<int32_t> toks = {1, 5, 3, 9, 0, 10, 2, 7, 7};
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
    if (!(e1 <= tol)) std::fprintf(stderr, "prefill rope %d tied %d store %d: %.3g > %.3g\n", interleaved, tied, store, e1, tol);
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
      CHECK(max_diff(ref, one, t * V) <= tol);
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
void test_quantized() {
  Weights w = make_weights(0, 0, 77);
  qs_model* qm = build(w, QS_DTYPE_F32);
  Weights dense = w;
  const int64_t d = 16, h = 20;
  struct Group {
    int32_t id;
    std::vector<std::vector<double>*> members;
    std::vector<int64_t> rows;
    int64_t cols;
  };
  Weights::Layer& L = w.layers[1];
  Weights::Layer& D = dense.layers[1];
  Group groups[] = {{QS_GROUP_QKV, {&L.wq, &L.wk, &L.wv}, {16, 8, 8}, d},
                    {QS_GROUP_O, {&L.wo}, {16}, 16},
                    {QS_GROUP_UPGATE, {&L.up, &L.gate}, {h, h}, d},
                    {QS_GROUP_DOWN, {&L.down}, {16}, h}};
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
    double ws = 0;
    CHECK_OK(qs_quantize_matrix(stacked.data(), rows, g.cols, nullptr, &p, codes.data(), s_in.data(), s_out.data(), &ws));
    CHECK_OK(qs_model_set_quantized(qm, 1, g.id, p.codebook_id, 0, codes.data(), rows, g.cols,
                                    s_in.data(), s_out.data(), ws, 1, fuse.data(), fuse.size()));
    CHECK_OK(qs_qlinear_decode(p.codebook_id, 0, codes.data(), rows, g.cols, s_in.data(), s_out.data(), ws, 1, dec.data()));
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
  CHECK_STATUS(qs_model_set_quantized(qm, 1, QS_GROUP_O, QS_CODEBOOK_E8P12, 0, c.data(), 8, 16,
                                      ones.data(), ones.data(), 1.0, 1, ones.data(), 1), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_model_set_quantized(qm, 1, QS_GROUP_QKV, QS_CODEBOOK_E8P12, 0, c.data(), 32, 16,
                                      ones.data(), ones.data(), 1.0, 1, ones.data(), 2), QS_ERR_INVALID_ARGUMENT);
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
  CHECK(qs_model_create(&bad) == nullptr);
  CHECK(std::string(qs_last_error()).find("n_kv_heads") != std::string::npos);
  qs_model* m = qs_model_create(&w.cfg);
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
void test_layer_by_layer(int32_t store) {
  Weights w = make_weights(0, 1, 9);
  const qs_model_config& c = w.cfg;
  const int64_t T = 7, d = c.dim, V = c.vocab_size;
  const std::vector<std::vector<int32_t>> windows = {{1, 4, 9, 3, 3, 10, 0}, {2, 2, 5, 8, 1, 6, 7}};
  qs_model* whole = build(w, store);
  CHECK_OK(qs_model_hessian_start(whole, 0, c.n_layers));
  std::vector<float> logits(T * V);
  for (const auto& win : windows) CHECK_OK(qs_model_forward(whole, win.data(), T, 0, logits.data(), 1));

  std::vector<std::vector<float>> hidden(windows.size(), std::vector<float>(T * d));
  qs_model* first = qs_model_create(&c);
  set(first, QS_TENSOR_EMBED, 0, w.embed, store);
  for (size_t i = 0; i < windows.size(); ++i) CHECK_OK(qs_model_embed(first, windows[i].data(), T, hidden[i].data()));
  qs_model_free(first);
  for (int l = 0; l < c.n_layers; ++l) {
    qs_model* one = qs_model_create(&c);  // only layer l is set
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
  // The whole model's logits of the last window against the tied head applied to the last layer's
  // layer-by-layer output.
  std::vector<float> last(T * V);
  CHECK_OK(qs_model_forward(whole, windows.back().data(), T, 0, last.data(), 1));
  std::vector<float> hl(T * V);
  for (int64_t t = 0; t < T; ++t) {
    // logits = embed · rmsnorm(x): the tied head by hand in double, compared loosely.
    double ss = 0;
    for (int64_t i = 0; i < d; ++i) ss += double(hidden.back()[t * d + i]) * hidden.back()[t * d + i];
    const double inv = 1.0 / std::sqrt(ss / d + c.norm_eps);
    for (int64_t v = 0; v < V; ++v) {
      double z = 0;
      for (int64_t i = 0; i < d; ++i) z += w.embed[v * d + i] * w.final_norm[i] * hidden.back()[t * d + i] * inv;
      hl[t * V + v] = static_cast<float>(z);
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
  qs_model* empty = qs_model_create(&c);
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

int main() {
  test_threads_identical();
  for (int interleaved : {0, 1})
    for (int tied : {0, 1}) test_forward(interleaved, tied);
  test_quantized();
  test_bad_input();
  test_layer_by_layer(QS_DTYPE_F32);
  test_layer_by_layer(QS_DTYPE_F16);
  TEST_MAIN_END();
}
