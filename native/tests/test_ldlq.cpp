// Damping, block LDL, BlockLDLQ and the proxy loss against float64 references computed here.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"

namespace {

std::vector<double> correlated_hessian(int64_t n, int64_t samples, double rho, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, 1.0);
  std::vector<double> scale(n);
  for (auto& s : scale) s = std::exp(0.5 * g(rng));
  std::vector<double> h(n * n, 0.0), x(n);
  for (int64_t s = 0; s < samples; ++s) {
    double prev = g(rng);
    for (int64_t i = 0; i < n; ++i) {
      if (i > 0) prev = rho * prev + std::sqrt(1 - rho * rho) * g(rng);
      x[i] = prev * scale[i];
    }
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) h[i * n + j] += x[i] * x[j] / samples;
  }
  return h;
}

std::vector<float> gaussian(int64_t count, uint64_t seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0.0, scale);
  std::vector<float> out(count);
  for (auto& v : out) v = static_cast<float>(g(rng));
  return out;
}

double loss_f64(const std::vector<float>& w, const std::vector<float>& q, int64_t m, int64_t n,
                const std::vector<double>& h) {
  double total = 0;
  std::vector<double> e(n);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t c = 0; c < n; ++c) e[c] = static_cast<double>(w[r * n + c]) - q[r * n + c];
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int64_t j = 0; j < n; ++j) s += h[i * n + j] * e[j];
      total += e[i] * s;
    }
  }
  return total;
}

void test_damping() {
  std::vector<double> h = {4, 1, 1, 2};
  CHECK_OK(qs_damp(h.data(), 2, 0.01));
  CHECK_NEAR(h[0], 4.0 / 3 + 0.01, 1e-12);
  CHECK_NEAR(h[1], 1.0 / 3, 1e-12);
  CHECK_NEAR(h[3], 2.0 / 3 + 0.01, 1e-12);
  std::vector<double> neg = {-1, 0, 0, -1};
  CHECK_STATUS(qs_damp(neg.data(), 2, 0.01), QS_ERR_NOT_POSITIVE_DEFINITE);
  std::vector<double> nan = {1, NAN, NAN, 1};
  CHECK_STATUS(qs_damp(nan.data(), 2, 0.01), QS_ERR_NON_FINITE);
}

void test_block_ldl() {
  const int64_t n = 200;  // 25 blocks; more than one 64-wide Cholesky panel
  auto h = correlated_hessian(n, 600, 0.9, 1);
  CHECK_OK(qs_damp(h.data(), n, 0.01));
  std::vector<double> lp(n * n), d(n * 8);
  CHECK_OK(qs_block_ldl(h.data(), n, lp.data(), d.data()));
  // L' unit block-lower triangular.
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool same_block = i / 8 == j / 8;
      if (same_block) CHECK_NEAR(lp[i * n + j], i == j ? 1.0 : 0.0, 1e-12);
      if (j / 8 > i / 8) CHECK(lp[i * n + j] == 0.0);
    }
  // L' D L'^T == H (relative 1e-10), D blocks symmetric.
  double max_rel = 0, max_h = 0;
  for (double v : h) max_h = std::max(max_h, std::fabs(v));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < n; k += 8)
        for (int64_t a = 0; a < 8; ++a)
          for (int64_t b = 0; b < 8; ++b)
            s += lp[i * n + k + a] * d[(k + a) * 8 + b] * lp[j * n + k + b];
      max_rel = std::max(max_rel, std::fabs(s - h[i * n + j]) / max_h);
    }
  CHECK(max_rel < 1e-10);
  for (int64_t k = 0; k < n; k += 8)
    for (int64_t a = 0; a < 8; ++a)
      for (int64_t b = 0; b < 8; ++b) CHECK_NEAR(d[(k + a) * 8 + b], d[(k + b) * 8 + a], 1e-12);
  // Not positive definite, wrong size.
  std::vector<double> bad(64 * 64, 0.0);
  for (int64_t i = 0; i < 64; ++i) bad[i * 64 + i] = i == 63 ? -1.0 : 1.0;
  CHECK_STATUS(qs_block_ldl(bad.data(), 64, lp.data(), d.data()), QS_ERR_NOT_POSITIVE_DEFINITE);
  CHECK_STATUS(qs_block_ldl(h.data(), 12, lp.data(), d.data()), QS_ERR_INVALID_ARGUMENT);
}

// Every returned block is the nearest codeword of its target T_k = W_k + sum_{j>k} E_j L'_{jk},
// recomputed here in double from the outputs.
void test_recursion_property(int32_t codebook) {
  const int64_t m = 24, n = 384;  // three 128-column chunks
  auto h = correlated_hessian(n, 1200, 0.95, 2);
  CHECK_OK(qs_damp(h.data(), n, 0.01));
  auto w = gaussian(m * n, 3, 1.03);
  std::vector<uint32_t> codes(m * n / 8);
  std::vector<float> q(m * n);
  CHECK_OK(qs_block_ldlq(w.data(), m, n, h.data(), codebook, 0, QS_ROUNDING_BLOCK_LDLQ, 0,
                         codes.data(), q.data()));
  std::vector<double> lp(n * n), d(n * 8);
  CHECK_OK(qs_block_ldl(h.data(), n, lp.data(), d.data()));
  std::vector<float> decoded(m * n);
  CHECK_OK(qs_codebook_decode(codebook, 0, codes.data(), m * n / 8, decoded.data()));
  int worse = 0;
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t k = 0; k < n; k += 8) {
      float t[8];
      for (int64_t a = 0; a < 8; ++a) {
        double s = w[r * n + k + a];
        for (int64_t j = k + 8; j < n; ++j)
          s += (static_cast<double>(w[r * n + j]) - q[r * n + j]) * lp[j * n + k + a];
        t[a] = static_cast<float>(s);
        CHECK(decoded[r * n + k + a] == q[r * n + k + a]);
      }
      uint32_t c;
      float best[8];
      CHECK_OK(qs_codebook_quantize(codebook, 0, t, 1, &c, best));
      double d_best = 0, d_got = 0;
      for (int64_t a = 0; a < 8; ++a) {
        d_best += (t[a] - best[a]) * (t[a] - best[a]);
        d_got += (t[a] - q[r * n + k + a]) * (t[a] - q[r * n + k + a]);
      }
      if (d_got > d_best + 1e-4 * (1 + d_best)) ++worse;
    }
  }
  CHECK(worse == 0);
}

void test_loss_and_refinement() {
  const int64_t m = 64, n = 256;
  auto h = correlated_hessian(n, 2000, 0.95, 4);
  CHECK_OK(qs_damp(h.data(), n, 0.01));
  auto w = gaussian(m * n, 5, 1.03);
  std::vector<uint32_t> codes(m * n / 8), codes_near(m * n / 8);
  std::vector<float> q(m * n), q_near(m * n);
  CHECK_OK(qs_block_ldlq(w.data(), m, n, h.data(), QS_CODEBOOK_E8P12, 0, QS_ROUNDING_NEAREST, 0,
                         codes_near.data(), q_near.data()));
  double previous = 0;
  for (int passes : {0, 1, 2, 4}) {
    CHECK_OK(qs_block_ldlq(w.data(), m, n, h.data(), QS_CODEBOOK_E8P12, 0, QS_ROUNDING_BLOCK_LDLQ,
                           passes, codes.data(), q.data()));
    const double l = loss_f64(w, q, m, n, h);
    double fast = 0;
    CHECK_OK(qs_proxy_loss(w.data(), q.data(), m, n, h.data(), &fast));
    CHECK_NEAR(fast, l, 1e-10 * l);  // double GEMM path vs the float64 reference loop
    if (passes == 0) {
      const double nearest = loss_f64(w, q_near, m, n, h);
      std::printf("E8P12 m=%lld n=%lld: nearest %.4f, BlockLDLQ %.4f\n", (long long)m, (long long)n,
                  nearest, l);
      CHECK(l < 0.9 * nearest);
    } else {
      std::printf("  + %d refine passes: %.4f\n", passes, l);
      CHECK(l <= previous * (1 + 1e-6));
    }
    previous = l;
  }
  // Identity Hessian: BlockLDLQ == nearest, code for code.
  std::vector<double> eye(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i) eye[i * n + i] = 1.0;
  CHECK_OK(qs_block_ldlq(w.data(), m, n, eye.data(), QS_CODEBOOK_E8P12RVQ4B, 0,
                         QS_ROUNDING_BLOCK_LDLQ, 0, codes.data(), q.data()));
  CHECK_OK(qs_block_ldlq(w.data(), m, n, eye.data(), QS_CODEBOOK_E8P12RVQ4B, 0, QS_ROUNDING_NEAREST,
                         0, codes_near.data(), q_near.data()));
  CHECK(codes == codes_near);
  // Identity proxy loss == squared error.
  double sq = 0, fast = 0;
  for (int64_t i = 0; i < m * n; ++i) sq += (double(w[i]) - q[i]) * (double(w[i]) - q[i]);
  CHECK_OK(qs_proxy_loss(w.data(), q.data(), m, n, nullptr, &fast));
  CHECK_NEAR(fast, sq, 1e-9 * sq);
}

void test_bad_arguments() {
  std::vector<float> w(64 * 64, 1.0f), q(64 * 64);
  std::vector<uint32_t> codes(64 * 8);
  std::vector<double> h(64 * 64, 0.0);
  for (int i = 0; i < 64; ++i) h[i * 64 + i] = 1.0;
  CHECK_STATUS(qs_block_ldlq(w.data(), 64, 60, h.data(), 7, 0, 0, 0, codes.data(), q.data()),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_block_ldlq(w.data(), 64, 64, h.data(), 9, 0, 0, 0, codes.data(), q.data()),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_block_ldlq(w.data(), 64, 64, nullptr, 7, 0, 0, 0, codes.data(), q.data()),
               QS_ERR_INVALID_ARGUMENT);
  w[100] = INFINITY;
  CHECK_STATUS(qs_block_ldlq(w.data(), 64, 64, h.data(), 7, 0, 0, 0, codes.data(), q.data()),
               QS_ERR_NON_FINITE);
  qs_quant_params p{};
  p.codebook_id = QS_CODEBOOK_E8P12;
  p.use_rht = 1;
  p.damping = 0.01;
  std::vector<float> s_in(64), s_out(100);
  qs_quant_result result{};
  std::vector<float> w100(100 * 64, 0.5f);
  CHECK_STATUS(qs_quantize_matrix(w100.data(), 0, 64, nullptr, 0, nullptr, &p, codes.data(),
                                  s_in.data(), s_out.data(), &result),
               QS_ERR_INVALID_ARGUMENT);
  std::printf("zero rows: %s\n", qs_last_error());
  // A Hessian sum needs at least one token; a non-finite row scale is refused.
  std::vector<float> s_out64(64), w64(64 * 64, 0.5f);
  CHECK_STATUS(qs_quantize_matrix(w64.data(), 64, 64, h.data(), 0, nullptr, &p, codes.data(),
                                  s_in.data(), s_out64.data(), &result),
               QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("tokens = 0") != std::string::npos);
  std::vector<float> row_scale(64, 1.0f);
  row_scale[3] = NAN;
  CHECK_STATUS(qs_quantize_matrix(w64.data(), 64, 64, h.data(), 10, row_scale.data(), &p,
                                  codes.data(), s_in.data(), s_out64.data(), &result),
               QS_ERR_NON_FINITE);
  CHECK(std::string(qs_last_error()).find("row_scale[3]") != std::string::npos);
  CHECK_STATUS(qs_quantize_matrix(w64.data(), 64, 64, h.data(), 10, nullptr, &p, codes.data(),
                                  s_in.data(), s_out64.data(), nullptr),
               QS_ERR_INVALID_ARGUMENT);
  // The row scale weighs each row's loss and normalizer by its square.
  qs_quant_result plain{}, scaled{};
  std::vector<float> wv(64 * 64);
  qs_test::Rng rng(31);
  for (float& v : wv) v = static_cast<float>(rng.normal());
  for (int i = 0; i < 64; ++i) row_scale[i] = 0.5f + 0.25f * (i % 4);
  CHECK_OK(qs_quantize_matrix(wv.data(), 64, 64, h.data(), 10, nullptr, &p, codes.data(),
                              s_in.data(), s_out64.data(), &plain));
  std::vector<uint32_t> codes2(codes);
  CHECK_OK(qs_quantize_matrix(wv.data(), 64, 64, h.data(), 10, row_scale.data(), &p, codes2.data(),
                              s_in.data(), s_out64.data(), &scaled));
  CHECK(codes == codes2);  // the scale changes only the report
  std::vector<float> dense(64 * 64);
  const qs_qlinear_desc d{QS_CODEBOOK_E8P12, 0.0, codes.data(), 64, 64, s_in.data(), s_out64.data(),
                          plain.wscale, 1};
  CHECK_OK(qs_qlinear_decode(&d, dense.data()));
  double loss = 0, norm = 0;  // h is the identity and the sum is over 10 tokens: H = I / 10
  for (int64_t r = 0; r < 64; ++r)
    for (int64_t c = 0; c < 64; ++c) {
      const double s2 = double(row_scale[r]) * row_scale[r], v = wv[r * 64 + c];
      loss += s2 * (v - dense[r * 64 + c]) * (v - dense[r * 64 + c]) / 10;
      norm += s2 * v * v / 10;
    }
  CHECK_NEAR(scaled.proxy_loss, loss, 1e-9 * loss);
  CHECK_NEAR(scaled.proxy_norm, norm, 1e-9 * norm);
}

}  // namespace

int main() {
  test_damping();
  test_block_ldl();
  test_recursion_property(QS_CODEBOOK_E8P12);
  test_recursion_property(QS_CODEBOOK_E8P12RVQ3B);
  test_recursion_property(QS_CODEBOOK_E8P12RVQ4B);
  test_loss_and_refinement();
  test_bad_arguments();
  TEST_MAIN_END();
}
