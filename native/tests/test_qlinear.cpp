// qs_qlinear_matvec (row path for few vectors, decoded tiles + GEMM for many) against a float64
// product with the dense weight from qs_qlinear_decode, for every codebook, with and without RHT.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "check.hpp"

int main() {
  qs_test::Rng rng(11);
  const int64_t m = 96, n = 256;  // 96 = 12 * 8: a Paley base on the output side
  std::vector<float> w(m * n);
  for (float& v : w) v = static_cast<float>(rng.normal());
  for (int32_t codebook : {QS_CODEBOOK_E8P12, QS_CODEBOOK_E8P12RVQ3B, QS_CODEBOOK_E8P12RVQ4B}) {
    for (int32_t rht : {0, 1}) {
      qs_quant_params p{};
      p.codebook_id = codebook;
      p.rounding = QS_ROUNDING_NEAREST;
      p.use_rht = rht;
      p.damping = 0.01;
      p.seed = 5;
      std::vector<uint32_t> codes(m * n / 8);
      std::vector<float> s_in(n), s_out(m), dense(m * n);
      qs_quant_result result{};
      CHECK_OK(qs_quantize_matrix(w.data(), m, n, nullptr, 0, nullptr, &p, codes.data(), s_in.data(),
                                  s_out.data(), &result));
      const double wscale = result.wscale;
      const qs_qlinear_desc d{codebook, 0.0, codes.data(), m, n, s_in.data(), s_out.data(), wscale, rht};
      CHECK_OK(qs_qlinear_decode(&d, dense.data()));
      // Without a Hessian the proxy loss is ||W - W_eff||^2 and its normalizer ||W||^2.
      double err2 = 0, w2 = 0;
      for (int64_t i = 0; i < m * n; ++i) {
        err2 += (double(w[i]) - dense[i]) * (double(w[i]) - dense[i]);
        w2 += double(w[i]) * w[i];
      }
      CHECK_NEAR(result.proxy_loss, err2, 1e-9 * err2);
      CHECK_NEAR(result.proxy_norm, w2, 1e-9 * w2);
      // The prepared layer (integer kernels) against qs_qlinear_matvec, within the bound its integer
      // activation rounding allows: |dz_r| <= max|u| / (2 L) * sum_j |W~_rj| (L = 127 for 8-bit,
      // 16383 for 16-bit activations), ||dy|| = wscale ||dz||.
      qs_qlayer* layer = nullptr;
      CHECK_OK(qs_qlayer_create(&d, &layer));
      if (layer != nullptr) {
        CHECK(qs_qlayer_weight_bytes(layer) == m * n / 8 * (codebook == QS_CODEBOOK_E8P12 ? 2 : codebook == QS_CODEBOOK_E8P12RVQ4B ? 4 : 3));
        std::vector<float> wt(m * n);
        CHECK_OK(qs_codebook_decode(codebook, 0, codes.data(), m * n / 8, wt.data()));
        for (int32_t bits : {8, 16})
        for (int32_t kernel : {QS_KERNEL_SCALAR, QS_KERNEL_AUTO}) {
          CHECK_OK(qs_set_activation_bits(bits));
          const double levels = bits == 16 ? 16383 : 127;
          const int64_t batch = 2;
          std::vector<float> x(batch * n), y_ref(batch * m), y(batch * m);
          for (float& v : x) v = static_cast<float>(rng.normal());
          CHECK_OK(qs_qlinear_matvec(&d, x.data(), batch, y_ref.data()));
          CHECK_OK(qs_qlayer_forward(layer, x.data(), batch, y.data(), kernel));
          for (int64_t b = 0; b < batch; ++b) {
            std::vector<float> u(x.begin() + b * n, x.begin() + (b + 1) * n);
            if (rht) CHECK_OK(qs_rht_apply_f32(u.data(), 1, n, 1, s_in.data(), 0));
            else for (int64_t c = 0; c < n; ++c) u[c] *= s_in[c];
            double max_u = 0;
            for (float v : u) max_u = std::max(max_u, std::fabs(double(v)));
            double bound2 = 0, err2 = 0, norm2 = 0;
            for (int64_t r = 0; r < m; ++r) {
              double row = 0;
              for (int64_t c = 0; c < n; ++c) row += std::fabs(double(wt[r * n + c]));
              const double dz = max_u / (2 * levels) * row;
              bound2 += dz * dz;
              const double e = double(y[b * m + r]) - y_ref[b * m + r];
              err2 += e * e;
              norm2 += double(y_ref[b * m + r]) * y_ref[b * m + r];
            }
            const double bound = wscale * std::sqrt(bound2) + 1e-5 * std::sqrt(norm2);
            if (!(std::sqrt(err2) <= bound))
              std::fprintf(stderr, "qlayer codebook %d rht %d bits %d: error %.3g > bound %.3g\n",
                           codebook, rht, bits, std::sqrt(err2), bound);
            CHECK(std::sqrt(err2) <= bound);
            // The bound itself is a few % here for 8 bits.
            CHECK(std::sqrt(err2) < (bits == 16 ? 0.001 : 0.05) * std::sqrt(norm2));
          }
        }
        qs_qlayer_free(layer);
      }
      for (int64_t batch : {1, 3, 4, 9}) {
        std::vector<float> x(batch * n), y(batch * m);
        for (float& v : x) v = static_cast<float>(rng.normal());
        CHECK_OK(qs_qlinear_matvec(&d, x.data(), batch, y.data()));
        const double worst = qs_test::worst_relative_error(qs_test::dense_reference(dense, m, n, x, batch), y);
        if (!(worst < 1e-5))
          std::fprintf(stderr, "codebook %d rht %d batch %lld: relative error %.3g\n", codebook, rht,
                       (long long)batch, worst);
        CHECK(worst < 1e-5);
      }
    }
  }
  // The GEMM path over several blocks of its packed x^T: 600 columns (k blocks 256 + 256 + 88) and a
  // batch of 300 (n blocks 256 + 44), 2-bit, no RHT.
  {
    const int64_t m2 = 40, n2 = 600, batch = 300;
    std::vector<float> w2(m2 * n2);
    for (float& v : w2) v = static_cast<float>(rng.normal());
    qs_quant_params p{};
    p.codebook_id = QS_CODEBOOK_E8P12;
    p.rounding = QS_ROUNDING_NEAREST;
    p.damping = 0.01;
    p.seed = 6;
    std::vector<uint32_t> codes(m2 * n2 / 8);
    std::vector<float> s_in(n2), s_out(m2), dense(m2 * n2), x(batch * n2), y(batch * m2);
    qs_quant_result result{};
    CHECK_OK(qs_quantize_matrix(w2.data(), m2, n2, nullptr, 0, nullptr, &p, codes.data(), s_in.data(),
                                s_out.data(), &result));
    const qs_qlinear_desc d{QS_CODEBOOK_E8P12, 0.0, codes.data(), m2, n2, s_in.data(), s_out.data(),
                            result.wscale, 0};
    CHECK_OK(qs_qlinear_decode(&d, dense.data()));
    for (float& v : x) v = static_cast<float>(rng.normal());
    CHECK_OK(qs_qlinear_matvec(&d, x.data(), batch, y.data()));
    const double worst = qs_test::worst_relative_error(qs_test::dense_reference(dense, m2, n2, x, batch), y);
    if (!(worst < 1e-5)) std::fprintf(stderr, "600 x 300 GEMM path: relative error %.3g\n", worst);
    CHECK(worst < 1e-5);
  }
  // Bad input: a status with a message, *out left as it was, never a crash.
  std::vector<uint32_t> bad(104 * 64 / 8, 0);
  std::vector<float> ones(104, 1.0f);
  int sentinel_target = 0;
  qs_qlayer* const sentinel = reinterpret_cast<qs_qlayer*>(&sentinel_target);
  auto refused = [&](const qs_qlinear_desc* d, const char* message) {
    qs_qlayer* out = sentinel;
    CHECK_STATUS(qs_qlayer_create(d, &out), QS_ERR_INVALID_ARGUMENT);
    CHECK(out == sentinel);
    if (std::string(qs_last_error()).find(message) == std::string::npos)
      std::fprintf(stderr, "message \"%s\" lacks \"%s\"\n", qs_last_error(), message);
    CHECK(std::string(qs_last_error()).find(message) != std::string::npos);
  };
  const qs_qlinear_desc good{QS_CODEBOOK_E8P12, 0, bad.data(), 96, 64, ones.data(), ones.data(), 1.0, 1};
  qs_qlinear_desc d = good;
  d.rows = 0;
  refused(&d, "rows = 0");
  refused(nullptr, "desc must not be null");
  d = good;
  d.s_out = nullptr;
  refused(&d, "desc->s_out must not be null");
  d = good;
  d.codebook_id = 99;
  refused(&d, "99");
  d = good;
  d.wscale = NAN;
  refused(&d, "desc->wscale");
  d = good;
  d.use_rht = 2;
  refused(&d, "use_rht = 2");
  std::vector<float> nan_signs(104, 1.0f);
  nan_signs[7] = NAN;
  d = good;
  d.s_in = nan_signs.data();
  {
    qs_qlayer* out = sentinel;
    CHECK_STATUS(qs_qlayer_create(&d, &out), QS_ERR_NON_FINITE);
    CHECK(out == sentinel);
    CHECK(std::string(qs_last_error()).find("desc->s_in[7]") != std::string::npos);
  }
  CHECK_STATUS(qs_qlayer_create(&good, nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("out must not be null") != std::string::npos);
  bad[3] = 0x1234;  // E81B index 0x34 is fine, but for E8P12 a code must be < 65536: use RVQ3 stage 2 = 0x1FF
  bad[5] = 0x000101FF;
  d = good;
  d.codebook_id = QS_CODEBOOK_E8P12RVQ3B;
  refused(&d, "desc->codes[");
  // The same description through the other entry points that read a quantized matrix.
  std::vector<float> dense_out(96 * 64), xs(64, 1.0f), ys(96);
  d = good;
  d.rows = 0;
  CHECK_STATUS(qs_qlinear_decode(&d, dense_out.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_qlinear_matvec(&d, xs.data(), 1, ys.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_qlinear_decode(nullptr, dense_out.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_qlinear_matvec(nullptr, xs.data(), 1, ys.data()), QS_ERR_INVALID_ARGUMENT);
  float x[64] = {0}, y[96];
  CHECK_STATUS(qs_qlayer_forward(nullptr, x, 1, y, 0), QS_ERR_INVALID_ARGUMENT);
  qs_qlayer_free(nullptr);
  TEST_MAIN_END();
}
