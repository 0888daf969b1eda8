// qs_qlinear_matvec (row path for few vectors, decoded tiles + GEMM for many) against a float64
// product with the dense weight from qs_qlinear_decode, for every codebook, with and without RHT.
#include <cmath>
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
      double wscale = 0;
      CHECK_OK(qs_quantize_matrix(w.data(), m, n, nullptr, &p, codes.data(), s_in.data(),
                                  s_out.data(), &wscale));
      CHECK_OK(qs_qlinear_decode(codebook, 0, codes.data(), m, n, s_in.data(), s_out.data(), wscale,
                                 rht, dense.data()));
      for (int64_t batch : {1, 3, 4, 9}) {
        std::vector<float> x(batch * n), y(batch * m);
        for (float& v : x) v = static_cast<float>(rng.normal());
        CHECK_OK(qs_qlinear_matvec(codebook, 0, codes.data(), m, n, s_in.data(), s_out.data(),
                                   wscale, rht, x.data(), batch, y.data()));
        double worst = 0;
        for (int64_t b = 0; b < batch; ++b)
          for (int64_t r = 0; r < m; ++r) {
            double ref = 0, mag = 0;
            for (int64_t c = 0; c < n; ++c) {
              ref += double(dense[r * n + c]) * x[b * n + c];
              mag += std::fabs(double(dense[r * n + c]) * x[b * n + c]);
            }
            worst = std::max(worst, std::fabs(y[b * m + r] - ref) / mag);
          }
        if (!(worst < 1e-5))
          std::fprintf(stderr, "codebook %d rht %d batch %lld: relative error %.3g\n", codebook, rht,
                       (long long)batch, worst);
        CHECK(worst < 1e-5);
      }
    }
  }
  TEST_MAIN_END();
}
