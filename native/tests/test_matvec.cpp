// CPU inference kernels: every SIMD kernel against the scalar reference (bit-identical for the integer
// codebook kernels), and the scalar reference against a float64 dot product of the decoded codewords.
#include <cmath>
#include <cstring>
#include <vector>

#include "check.hpp"

namespace {

using qs_test::Rng;

std::vector<float> activation(int64_t n, Rng& rng, int kind) {
  std::vector<float> u(n);
  for (float& v : u) v = static_cast<float>(rng.normal());
  if (kind == 1) {  // one huge spike
    u[n / 2] = 1e4f;
  } else if (kind == 2) {  // huge and tiny magnitudes
    for (int64_t i = 0; i < n; ++i) u[i] *= (i % 2 == 0) ? 1e30f : 1e-30f;
  } else if (kind == 3) {
    for (float& v : u) v = 0.0f;
  } else if (kind == 4) {  // tiny magnitudes, down to subnormals (16383 / max|u| overflows float)
    for (int64_t i = 0; i < n; ++i) u[i] *= (i % 3 == 0) ? 1e-38f : 1e-44f;
  }
  return u;
}

// Float64 reference of z = W~ u from decoded codewords, and the bound the integer activation allows:
// each |u_j - uq_j * s| <= s/2 with s = max|u| / L (L = 127 for 8 bits, 16383 for 16), times |w_j|.
template <typename DecodeFn>
void reference(int64_t m, int64_t n, const std::vector<float>& u, DecodeFn decode,
               std::vector<double>& z, std::vector<double>& bound) {
  double max_abs = 0;
  for (float v : u) max_abs = std::max(max_abs, std::fabs(static_cast<double>(v)));
  const double step = max_abs / (qs_get_activation_bits() == 16 ? 16383 : 127);
  std::vector<float> row(n);
  z.assign(m, 0.0);
  bound.assign(m, 0.0);
  for (int64_t r = 0; r < m; ++r) {
    decode(r, row.data());
    for (int64_t c = 0; c < n; ++c) {
      z[r] += static_cast<double>(row[c]) * u[c];
      bound[r] += std::fabs(row[c]) * step * 0.5;
    }
    // float rounding of the result: relative 2^-23 plus one subnormal step
    bound[r] = bound[r] * (1 + 1e-6) + 1e-6 * std::fabs(z[r]) + 1.5e-45;
  }
}

void test_e8p_and_e81b(int32_t bits) {
  CHECK_OK(qs_set_activation_bits(bits));
  Rng rng(1);
  const int64_t shapes[][2] = {{1, 8}, {3, 24}, {5, 136}, {7, 64}, {37, 4104}, {64, 4096}, {9, 65544}};
  for (const auto& shape : shapes) {
    const int64_t m = shape[0], n = shape[1], blocks = n / 8;
    std::vector<uint16_t> codes(m * blocks);
    std::vector<uint8_t> small(m * blocks);
    for (auto& c : codes) c = static_cast<uint16_t>(rng.next());
    for (auto& c : small) c = static_cast<uint8_t>(rng.next());
    std::vector<float> e81b(256 * 8);
    CHECK_OK(qs_e81b_table(e81b.data()));
    for (int kind = 0; kind < 5; ++kind) {
      const auto u = activation(n, rng, kind);
      std::vector<double> z_ref, bound, z2_ref, bound2;
      reference(m, n, u, [&](int64_t r, float* row) {
        qs_e8p_decode(&codes[r * blocks], blocks, row);
      }, z_ref, bound);
      reference(m, n, u, [&](int64_t r, float* row) {
        for (int64_t k = 0; k < blocks; ++k)
          std::memcpy(row + 8 * k, &e81b[small[r * blocks + k] * 8], 32);
      }, z2_ref, bound2);
      std::vector<float> first, first2;
      for (int32_t kernel : qs_test::cpu_kernels()) {
        std::vector<float> z(m), z2(m);
        CHECK_OK(qs_e8p_matvec(codes.data(), m, n, u.data(), z.data(), kernel));
        CHECK_OK(qs_e81b_matvec(small.data(), m, n, u.data(), z2.data(), kernel));
        int bad = 0;
        for (int64_t r = 0; r < m; ++r) {
          if (!(std::fabs(z[r] - z_ref[r]) <= bound[r])) ++bad;
          if (!(std::fabs(z2[r] - z2_ref[r]) <= bound2[r])) ++bad;
        }
        if (bad) std::fprintf(stderr, "m=%lld n=%lld kind %d kernel %d bits %d: %d rows outside the bound\n",
                              (long long)m, (long long)n, kind, kernel, bits, bad);
        CHECK(bad == 0);
        if (first.empty()) {
          first = z;
          first2 = z2;
        } else {
          CHECK(std::memcmp(first.data(), z.data(), 4 * m) == 0);  // bit-identical to scalar
          CHECK(std::memcmp(first2.data(), z2.data(), 4 * m) == 0);
        }
      }
    }
  }
}

// A prepared layer of every codebook (both stages in one pass on AVX-512) gives the same bits on every
// kernel, on shapes with whole groups of 64 codes and a tail.
void test_layers_identical(int32_t bits) {
  CHECK_OK(qs_set_activation_bits(bits));
  Rng rng(4);
  const int64_t shapes[][2] = {{7, 1576}, {33, 4104}, {3, 520}, {2, 8}};
  for (int32_t codebook : {QS_CODEBOOK_E8P12, QS_CODEBOOK_E8P12RVQ3B, QS_CODEBOOK_E8P12RVQ4B}) {
    for (const auto& shape : shapes) {
      const int64_t m = shape[0], n = shape[1];
      std::vector<uint32_t> codes(m * n / 8);
      for (auto& c : codes) {
        const uint32_t first = static_cast<uint32_t>(rng.next() & 0xFFFF);
        const uint32_t second = static_cast<uint32_t>(rng.next() & (codebook == QS_CODEBOOK_E8P12RVQ3B ? 0xFF : 0xFFFF));
        c = codebook == QS_CODEBOOK_E8P12 ? first : first << 16 | second;
      }
      std::vector<float> s_in(n), s_out(m), x(2 * n);
      for (float& v : s_in) v = rng.next() % 2 ? 1.0f : -1.0f;
      for (float& v : s_out) v = rng.next() % 2 ? 0.5f : -0.5f;
      for (float& v : x) v = static_cast<float>(rng.normal());
      const qs_qlinear_desc d{codebook, 0, codes.data(), m, n, s_in.data(), s_out.data(), 1.0, 0};
      qs_qlayer* layer = nullptr;
      CHECK_OK(qs_qlayer_create(&d, &layer));
      if (layer == nullptr) continue;
      std::vector<float> first;
      for (int32_t kernel : qs_test::cpu_kernels()) {
        std::vector<float> y(2 * m);
        CHECK_OK(qs_qlayer_forward(layer, x.data(), 2, y.data(), kernel));
        if (first.empty()) {
          first = y;
        } else {
          const bool same = std::memcmp(first.data(), y.data(), 4 * first.size()) == 0;
          if (!same) std::fprintf(stderr, "codebook %d %lldx%lld kernel %d bits %d differs from scalar\n",
                                  codebook, (long long)m, (long long)n, kernel, bits);
          CHECK(same);
        }
      }
      qs_qlayer_free(layer);
    }
  }
}

void test_threads_identical() {
  Rng rng(2);
  const int64_t m = 300, n = 1024;
  std::vector<uint16_t> codes(m * n / 8);
  for (auto& c : codes) c = static_cast<uint16_t>(rng.next());
  const auto u = activation(n, rng, 0);
  const int32_t original = qs_get_num_threads();
  std::vector<float> reference(m);
  CHECK_OK(qs_set_num_threads(1));
  CHECK_OK(qs_e8p_matvec(codes.data(), m, n, u.data(), reference.data(), QS_KERNEL_AUTO));
  for (int32_t t = 2; t <= 4; ++t) {
    std::vector<float> z(m);
    CHECK_OK(qs_set_num_threads(t));
    CHECK_OK(qs_e8p_matvec(codes.data(), m, n, u.data(), z.data(), QS_KERNEL_AUTO));
    CHECK(z == reference);
  }
  CHECK_OK(qs_set_num_threads(original));
}

void test_dense_baselines() {
  Rng rng(3);
  const int64_t shapes[][2] = {{1, 1}, {3, 7}, {17, 33}, {64, 4096}, {5, 1001}};
  for (const auto& shape : shapes) {
    const int64_t m = shape[0], n = shape[1];
    std::vector<float> w(m * n), x(n);
    for (float& v : w) v = static_cast<float>(rng.normal());
    for (float& v : x) v = static_cast<float>(rng.normal());
    std::vector<uint16_t> wh(m * n);
    CHECK_OK(qs_f32_to_f16(w.data(), m * n, wh.data()));
    for (int32_t kernel : qs_test::cpu_kernels()) {
      std::vector<float> y(m), yh(m);
      CHECK_OK(qs_f32_matvec(w.data(), m, n, x.data(), y.data(), kernel));
      CHECK_OK(qs_f16_matvec(wh.data(), m, n, x.data(), yh.data(), kernel));
      for (int64_t r = 0; r < m; ++r) {
        double ref = 0, norm = 0;
        for (int64_t c = 0; c < n; ++c) {
          ref += double(w[r * n + c]) * x[c];
          norm += std::fabs(double(w[r * n + c]) * x[c]);
        }
        CHECK_NEAR(y[r], ref, 1e-6 * norm + 1e-30);
        CHECK_NEAR(yh[r], ref, 1e-3 * norm);  // fp16 rounding of the weights: 2^-11 relative
      }
    }
  }
}

void test_half_conversion() {
  // Every finite half converts to float and back unchanged; known values convert exactly.
  std::vector<uint16_t> all(65536);
  for (int i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> f(65536);
  std::vector<uint16_t> w(65536);
  // half -> float through the kernel: an identity matrix row picks one weight
  for (int i = 0; i < 65536; ++i) {
    const int exp = (i >> 10) & 0x1F;
    if (exp == 0x1F || i == 0x8000) continue;  // inf / nan; -0 becomes +0 in a sum
    float one = 1.0f, y = 0;
    uint16_t h = static_cast<uint16_t>(i);
    CHECK_OK(qs_f16_matvec(&h, 1, 1, &one, &y, QS_KERNEL_SCALAR));
    uint16_t back = 0;
    CHECK_OK(qs_f32_to_f16(&y, 1, &back));
    if (back != h) {
      std::fprintf(stderr, "half 0x%04x -> %g -> 0x%04x\n", i, y, back);
      CHECK(false);
      break;
    }
  }
  const float values[] = {1.0f, -2.0f, 65504.0f, 1e6f, 5.9604645e-08f, 1e-9f, 0.33333334f};
  const uint16_t expected[] = {0x3C00, 0xC000, 0x7BFF, 0x7C00, 0x0001, 0x0000, 0x3555};
  uint16_t out[7];
  CHECK_OK(qs_f32_to_f16(values, 7, out));
  for (int i = 0; i < 7; ++i) CHECK(out[i] == expected[i]);
}

void test_errors() {
  std::vector<uint16_t> codes(8);
  std::vector<float> u(64, 1.0f), z(1);
  CHECK_STATUS(qs_e8p_matvec(codes.data(), 1, 60, u.data(), z.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_matvec(codes.data(), 1, 64, u.data(), z.data(), 9), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_matvec(nullptr, 1, 64, u.data(), z.data(), 0), QS_ERR_INVALID_ARGUMENT);
  u[3] = NAN;
  CHECK_STATUS(qs_e8p_matvec(codes.data(), 1, 64, u.data(), z.data(), 0), QS_ERR_NON_FINITE);
  CHECK_STATUS(qs_set_activation_bits(12), QS_ERR_INVALID_ARGUMENT);
  CHECK(qs_get_activation_bits() == 8);  // unchanged by the refused call
  CHECK(qs_cpu_kernel_available(QS_KERNEL_SCALAR) == 1);
  CHECK(qs_cpu_kernel_available(77) == 0);
}

}  // namespace

int main() {
  std::printf("avx2 kernels: %s\n", qs_cpu_kernel_available(QS_KERNEL_AVX2) ? "tested" : "not on this CPU");
  std::printf("avx512 kernels: %s\n", qs_cpu_kernel_available(QS_KERNEL_AVX512) ? "tested" : "not on this CPU");
  test_e8p_and_e81b(16);
  test_e8p_and_e81b(8);
  test_layers_identical(16);
  test_layers_identical(8);
  test_threads_identical();
  test_dense_baselines();
  test_half_conversion();
  test_errors();
  TEST_MAIN_END();
}
