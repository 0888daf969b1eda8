// E81B table and the composite codebooks (QUIPSHARP.md §4, test vectors §10.3) through the C
// boundary.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "check.hpp"

namespace {

using qs_test::Rng;


std::vector<float> e81b() {
  std::vector<float> t(256 * 8);
  CHECK_OK(qs_e81b_table(t.data()));
  return t;
}

// §4.3 order and contents.
void test_e81b_table() {
  const std::vector<float> t = e81b();
  std::vector<std::array<float, 8>> rows(256);
  for (int k = 0; k < 256; ++k)
    for (int j = 0; j < 8; ++j) rows[k][j] = t[8 * k + j];
  // Rows 0..112: integer, norm^2 0 or 2 (entries in {-1,0,1}), strictly ascending. There are
  // exactly 1 + 4 * C(8,2) = 113 such points, so these rows are all of them.
  for (int k = 0; k <= 112; ++k) {
    int nonzero = 0;
    for (int j = 0; j < 8; ++j) {
      const float v = rows[k][j];
      CHECK(v == -1.0f || v == 0.0f || v == 1.0f);
      nonzero += v != 0.0f;
    }
    CHECK(nonzero == 0 || nonzero == 2);
    if (k > 0) CHECK(rows[k - 1] < rows[k]);
  }
  CHECK(1 + 4 * 28 == 113);
  const std::array<float, 8> origin = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::array<float, 8> row0 = {-1, -1, 0, 0, 0, 0, 0, 0};
  CHECK(rows[56] == origin);
  CHECK(rows[0] == row0);
  // Rows 113..240: (+-1/2)^8 with an even number of minus signs, strictly ascending (128 of them).
  for (int k = 113; k <= 240; ++k) {
    int minus = 0;
    for (int j = 0; j < 8; ++j) {
      CHECK(rows[k][j] == 0.5f || rows[k][j] == -0.5f);
      minus += rows[k][j] < 0;
    }
    CHECK(minus % 2 == 0);
    if (k > 113) CHECK(rows[k - 1] < rows[k]);
  }
  // Rows 241..255: +2 e_0..+2 e_7, then -2 e_0..-2 e_6.
  for (int i = 0; i < 15; ++i) {
    std::array<float, 8> want = {0, 0, 0, 0, 0, 0, 0, 0};
    if (i < 8)
      want[i] = 2.0f;
    else
      want[i - 8] = -2.0f;
    CHECK(rows[241 + i] == want);
  }
  std::sort(rows.begin(), rows.end());
  CHECK(std::adjacent_find(rows.begin(), rows.end()) == rows.end());
}

double distance2(const float* x, const float* c) {
  double d = 0;
  for (int j = 0; j < 8; ++j) {
    const double u = static_cast<double>(x[j]) - c[j];
    d += u * u;
  }
  return d;
}

void test_e81b_encode() {
  const std::vector<float> t = e81b();
  Rng rng(99);
  const int count = 20000;
  std::vector<float> x(8 * count);
  for (int i = 0; i < count; ++i) {
    const int kind = i % 5;
    for (int j = 0; j < 8; ++j) {
      float v = 0;
      if (kind == 0) v = static_cast<float>(0.3 * rng.normal());
      if (kind == 1) v = static_cast<float>(rng.normal());
      if (kind == 2) v = static_cast<float>(3.0 * rng.normal());
      if (kind == 3) v = static_cast<float>(-2.0 + 4.0 * rng.uniform());
      if (kind == 4) v = static_cast<float>(static_cast<int>(rng.next() % 17) - 8) * 0.25f;  // ties
      x[8 * i + j] = v;
    }
  }
  std::vector<uint8_t> codes(count);
  std::vector<float> out(x.size());
  CHECK_OK(qs_e81b_encode(x.data(), count, codes.data(), out.data()));
  int wrong = 0, bad_out = 0;
  for (int i = 0; i < count; ++i) {
    double best = 1e300;
    for (int k = 0; k < 256; ++k) best = std::min(best, distance2(&x[8 * i], &t[8 * k]));
    const double got = distance2(&x[8 * i], &t[8 * codes[i]]);
    wrong += got > best * (1 + 1e-6) + 1e-9;
    bad_out += std::memcmp(&out[8 * i], &t[8 * codes[i]], 8 * sizeof(float)) != 0;
  }
  std::printf("E81B encode vs brute force: %d vectors, %d not nearest\n", count, wrong);
  CHECK(wrong == 0);
  CHECK(bad_out == 0);
  // Every row encodes to itself.
  std::vector<uint8_t> self(256);
  CHECK_OK(qs_e81b_encode(t.data(), 256, self.data(), nullptr));
  int moved = 0;
  for (int k = 0; k < 256; ++k) moved += self[k] != k;
  CHECK(moved == 0);
}

void test_info() {
  int32_t bits = 0;
  double scale = 0, resid = -1;
  CHECK_OK(qs_codebook_info(QS_CODEBOOK_E8P12, &bits, &scale, &resid));
  CHECK(bits == 2 && scale == 1.03 && resid == 0.0);
  CHECK_OK(qs_codebook_info(QS_CODEBOOK_E8P12RVQ4B, &bits, &scale, &resid));
  CHECK(bits == 4 && scale == 1.03 && resid == 3.45);
  CHECK_OK(qs_codebook_info(QS_CODEBOOK_E8P12RVQ3B, &bits, &scale, &resid));
  CHECK(bits == 3 && scale == 0.98 && resid == 2.04);
  CHECK_STATUS(qs_codebook_info(5, &bits, &scale, &resid), QS_ERR_INVALID_ARGUMENT);
  const char* msg = qs_last_error();
  CHECK(std::strstr(msg, "5") != nullptr && std::strstr(msg, "7") != nullptr &&
        std::strstr(msg, "17") != nullptr && std::strstr(msg, "18") != nullptr);
}

// The composition rule of §4.1 rebuilt from the stage encoders.
void test_composition() {
  Rng rng(5);
  const int count = 3000;
  std::vector<float> z(8 * count);
  for (float& v : z) v = static_cast<float>(rng.normal());
  const int32_t ids[3] = {QS_CODEBOOK_E8P12, QS_CODEBOOK_E8P12RVQ4B, QS_CODEBOOK_E8P12RVQ3B};
  for (int32_t id : ids) {
    for (double resid_arg : {0.0, -1.0, 2.5}) {
      double opt_resid = 0;
      CHECK_OK(qs_codebook_info(id, nullptr, nullptr, &opt_resid));
      const float rho2 = static_cast<float>(resid_arg > 0 ? resid_arg : opt_resid);
      std::vector<uint32_t> codes(count);
      std::vector<float> out(z.size()), dec(z.size());
      CHECK_OK(qs_codebook_quantize(id, resid_arg, z.data(), count, codes.data(), out.data()));
      CHECK_OK(qs_codebook_decode(id, resid_arg, codes.data(), count, dec.data()));
      CHECK(dec == out);
      std::vector<uint32_t> codes2(count);
      CHECK_OK(qs_codebook_quantize(id, resid_arg, z.data(), count, codes2.data(), nullptr));
      CHECK(codes2 == codes);

      std::vector<uint16_t> c1(count);
      std::vector<float> q1(z.size());
      CHECK_OK(qs_e8p_encode(z.data(), count, c1.data(), q1.data()));
      int mismatch = 0;
      if (id == QS_CODEBOOK_E8P12) {
        for (int i = 0; i < count; ++i) mismatch += codes[i] != c1[i];
        mismatch += !(q1 == out);
      } else {
        std::vector<float> r(z.size()), q2(z.size());
        for (size_t i = 0; i < z.size(); ++i) r[i] = (z[i] - q1[i]) * rho2;
        std::vector<uint32_t> c2(count);
        if (id == QS_CODEBOOK_E8P12RVQ4B) {
          std::vector<uint16_t> c(count);
          CHECK_OK(qs_e8p_encode(r.data(), count, c.data(), q2.data()));
          for (int i = 0; i < count; ++i) c2[i] = c[i];
        } else {
          std::vector<uint8_t> c(count);
          CHECK_OK(qs_e81b_encode(r.data(), count, c.data(), q2.data()));
          for (int i = 0; i < count; ++i) c2[i] = c[i];
        }
        for (int i = 0; i < count; ++i)
          mismatch += codes[i] != ((static_cast<uint32_t>(c1[i]) << 16) | c2[i]);
        for (size_t i = 0; i < z.size(); ++i) mismatch += out[i] != q1[i] + q2[i] / rho2;
      }
      CHECK(mismatch == 0);
    }
  }
}

// MSE per coordinate of x_hat = Q(rho x)/rho on N(0,1) at the default scales (§3.6, §4.2, §4.3).
double codebook_mse(int32_t id, const std::vector<float>& x) {
  double rho = 0;
  CHECK_OK(qs_codebook_info(id, nullptr, &rho, nullptr));
  const int64_t count = static_cast<int64_t>(x.size() / 8);
  std::vector<float> scaled(x.size()), out(x.size());
  for (size_t i = 0; i < x.size(); ++i) scaled[i] = static_cast<float>(rho * x[i]);
  std::vector<uint32_t> codes(static_cast<size_t>(count));
  CHECK_OK(qs_codebook_quantize(id, 0.0, scaled.data(), count, codes.data(), out.data()));
  double sum = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double e = out[i] / rho - x[i];
    sum += e * e;
  }
  return sum / static_cast<double>(x.size());
}

void test_mse() {
  Rng rng(0);
  std::vector<float> x(8 * 40000);
  for (float& v : x) v = static_cast<float>(rng.normal());
  const double m2 = codebook_mse(QS_CODEBOOK_E8P12, x);
  const double m3 = codebook_mse(QS_CODEBOOK_E8P12RVQ3B, x);
  const double m4 = codebook_mse(QS_CODEBOOK_E8P12RVQ4B, x);
  std::printf(
      "MSE on 40000 N(0,1) vectors at default scales: 2-bit %.5f (spec 0.0917), 3-bit %.5f "
      "(spec 0.0296), 4-bit %.5f (spec 0.0097)\n",
      m2, m3, m4);
  CHECK(m4 < m3 && m3 < m2);
  CHECK_NEAR(m2, 0.0917, 0.15 * 0.0917);
  CHECK_NEAR(m3, 0.0296, 0.15 * 0.0296);
  CHECK_NEAR(m4, 0.0097, 0.15 * 0.0097);
}

void test_errors() {
  float x[16] = {0};
  uint32_t codes[2] = {0, 0};
  float out[16];
  uint8_t c8;
  CHECK_STATUS(qs_e81b_table(nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e81b_encode(nullptr, 1, &c8, out), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e81b_encode(x, 1, nullptr, out), QS_ERR_INVALID_ARGUMENT);
  x[3] = std::nanf("");
  CHECK_STATUS(qs_e81b_encode(x, 1, &c8, out), QS_ERR_NON_FINITE);
  CHECK_STATUS(qs_codebook_quantize(QS_CODEBOOK_E8P12RVQ4B, 0, x, 2, codes, out),
               QS_ERR_NON_FINITE);
  CHECK(std::strstr(qs_last_error(), "x[3]") != nullptr);
  x[3] = 0;
  CHECK_STATUS(qs_codebook_quantize(16, 0, x, 2, codes, out), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "16") != nullptr);
  CHECK_STATUS(qs_codebook_decode(19, 0, codes, 2, out), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_codebook_quantize(QS_CODEBOOK_E8P12, 0, nullptr, 2, codes, out),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_codebook_quantize(QS_CODEBOOK_E8P12, 0, x, 2, nullptr, out),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_codebook_quantize(QS_CODEBOOK_E8P12, 0, x, -1, codes, out),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_codebook_quantize(QS_CODEBOOK_E8P12RVQ3B, std::nan(""), x, 2, codes, out),
               QS_ERR_NON_FINITE);
  CHECK_STATUS(qs_codebook_decode(QS_CODEBOOK_E8P12, 0, codes, 2, nullptr),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_OK(qs_codebook_quantize(QS_CODEBOOK_E8P12RVQ3B, 0, x, 2, codes, out));
  // Out-of-range codes: RVQ3 stage-2 index >= 256, E8P12 code >= 65536.
  uint32_t bad[2] = {0x12340010u, 0x00010100u};
  CHECK_STATUS(qs_codebook_decode(QS_CODEBOOK_E8P12RVQ3B, 0, bad, 2, out), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "codes[1]") != nullptr);
  uint32_t big[1] = {0x10000u};
  CHECK_STATUS(qs_codebook_decode(QS_CODEBOOK_E8P12, 0, big, 1, out), QS_ERR_INVALID_ARGUMENT);
  // Any 32 bits are an RVQ4 code.
  CHECK_OK(qs_codebook_decode(QS_CODEBOOK_E8P12RVQ4B, 0, big, 1, out));
  CHECK_OK(qs_codebook_decode(QS_CODEBOOK_E8P12RVQ3B, 0, bad, 1, out));
}

}  // namespace

// qs_codebook_decode (a table-driven decode, AVX2 where allowed: ctest runs this file again with
// QUIPSHARP_CPU_KERNEL=scalar) against the per-coordinate decoder, on every E8P12 code and on
// random composite codes: stage 1 + stage 2 / rho2, bit for bit.
void test_decode_every_code() {
  std::vector<uint16_t> all(65536);
  for (int c = 0; c < 65536; ++c) all[c] = static_cast<uint16_t>(c);
  std::vector<float> e8p(65536 * 8), e81b(256 * 8);
  CHECK_OK(qs_e8p_decode(all.data(), 65536, e8p.data()));
  CHECK_OK(qs_e81b_table(e81b.data()));
  std::vector<uint32_t> codes(all.begin(), all.end());
  std::vector<float> dec(65536 * 8);
  CHECK_OK(qs_codebook_decode(QS_CODEBOOK_E8P12, 0.0, codes.data(), 65536, dec.data()));
  CHECK(dec == e8p);
  Rng rng(9);
  for (int32_t id : {QS_CODEBOOK_E8P12RVQ3B, QS_CODEBOOK_E8P12RVQ4B}) {
    double opt = 0;
    CHECK_OK(qs_codebook_info(id, nullptr, nullptr, &opt));
    const float rho2 = static_cast<float>(opt);
    const bool e81b_stage = id == QS_CODEBOOK_E8P12RVQ3B;
    const int count = 100000;
    std::vector<uint32_t> c(count);
    for (uint32_t& v : c) v = static_cast<uint32_t>(rng.next()) & (e81b_stage ? 0xFFFF00FFu : 0xFFFFFFFFu);
    std::vector<float> got(8 * count), want(8 * count);
    CHECK_OK(qs_codebook_decode(id, 0.0, c.data(), count, got.data()));
    for (int i = 0; i < count; ++i)
      for (int j = 0; j < 8; ++j) {
        const float q1 = e8p[(c[i] >> 16) * 8 + j];
        const float q2 = e81b_stage ? e81b[(c[i] & 0xFF) * 8 + j] : e8p[(c[i] & 0xFFFF) * 8 + j];
        want[8 * i + j] = q1 + q2 / rho2;
      }
    CHECK(got == want);
  }
}

int main() {
  test_decode_every_code();
  test_e81b_table();
  test_e81b_encode();
  test_info();
  test_composition();
  test_mse();
  test_errors();
  TEST_MAIN_END();
}
