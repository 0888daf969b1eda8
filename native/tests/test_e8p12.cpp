// E8P12 codebook (QUIPSHARP.md §3, test vectors §10.2) through the C boundary, against references
// written here from the spec text: the padding list, the worked examples, a kernel-style nibble
// decode from the packed table, and a brute-force nearest-codeword scan over all 65536 codewords.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "check.hpp"

namespace {

using qs_test::Rng;


constexpr int kCodes = 65536;
const int kSlotCoord[8] = {0, 2, 4, 6, 1, 3, 5, 7};

std::vector<float> abs_table() {
  std::vector<float> s(256 * 8);
  CHECK_OK(qs_e8p_abs_table(s.data()));
  return s;
}

std::vector<float> all_codewords() {
  std::vector<uint16_t> codes(kCodes);
  for (int c = 0; c < kCodes; ++c) codes[c] = static_cast<uint16_t>(c);
  std::vector<float> cw(static_cast<size_t>(kCodes) * 8);
  CHECK_OK(qs_e8p_decode(codes.data(), kCodes, cw.data()));
  return cw;
}

void check_vec(const float* got, const double* want, const char* what) {
  bool ok = true;
  for (int j = 0; j < 8; ++j) ok = ok && got[j] == static_cast<float>(want[j]);
  if (!ok) {
    std::fprintf(stderr, "%s: got (", what);
    for (int j = 0; j < 8; ++j) std::fprintf(stderr, "%g ", got[j]);
    std::fprintf(stderr, ")\n");
  }
  CHECK(ok);
}

// §3.2: census, order, padding rows and the worked examples.
void test_abs_table() {
  const std::vector<float> s = abs_table();
  int t[256][8];
  for (int k = 0; k < 256; ++k)
    for (int j = 0; j < 8; ++j) {
      const float twice = 2.0f * s[8 * k + j];
      t[k][j] = static_cast<int>(twice);
      CHECK(static_cast<float>(t[k][j]) == twice);
      CHECK(t[k][j] == 1 || t[k][j] == 3 || t[k][j] == 5 || t[k][j] == 7);
    }
  // Rows 0..226 strictly ascending lexicographically with sum t^2 <= 40; together with the count of
  // all such t (227, counted independently below) this means they are exactly that set, in order.
  int count = 0;
  for (int i = 0; i < (1 << 16); ++i) {
    int norm = 0;
    for (int j = 0; j < 8; ++j) {
      const int v = 2 * ((i >> (2 * j)) & 3) + 1;
      norm += v * v;
    }
    count += norm <= 40;
  }
  CHECK(count == 227);
  for (int k = 0; k < 227; ++k) {
    int norm = 0;
    for (int j = 0; j < 8; ++j) norm += t[k][j] * t[k][j];
    CHECK(norm <= 40);
    if (k > 0) CHECK(std::lexicographical_compare(t[k - 1], t[k - 1] + 8, t[k], t[k] + 8));
  }
  // Padding rows: the spec's list of positions holding 1/2.
  const char* halves[29] = {"123", "023", "013", "012", "367", "357", "347", "356", "346", "345",
                            "267", "257", "247", "256", "246", "245", "167", "157", "147", "156",
                            "146", "045", "067", "057", "047", "056", "046", "014", "237"};
  for (int p = 0; p < 29; ++p)
    for (int j = 0; j < 8; ++j) {
      const bool half = std::strchr(halves[p], '0' + j) != nullptr;
      CHECK(t[227 + p][j] == (half ? 1 : 3));
    }
  // Distinct rows and the norm^2 census 2:1, 4:8, 6:28, 8:64, 10:126, 12:29.
  std::vector<std::array<int, 8>> rows(256);
  std::map<int, int> census;
  for (int k = 0; k < 256; ++k) {
    int norm = 0;
    for (int j = 0; j < 8; ++j) {
      rows[k][j] = t[k][j];
      norm += t[k][j] * t[k][j];
    }
    CHECK(norm % 4 == 0);
    ++census[norm / 4];
  }
  std::sort(rows.begin(), rows.end());
  CHECK(std::adjacent_find(rows.begin(), rows.end()) == rows.end());
  CHECK(census.size() == 6);
  CHECK(census[2] == 1 && census[4] == 8 && census[6] == 28);
  CHECK(census[8] == 64 && census[10] == 126 && census[12] == 29);
  const double s0[8] = {.5, .5, .5, .5, .5, .5, .5, .5};
  const double s1[8] = {.5, .5, .5, .5, .5, .5, .5, 1.5};
  const double s21[8] = {.5, .5, .5, .5, 1.5, .5, 1.5, 1.5};
  const double s226[8] = {2.5, 1.5, .5, .5, .5, .5, .5, .5};
  const double s227[8] = {1.5, .5, .5, .5, 1.5, 1.5, 1.5, 1.5};
  check_vec(&s[0], s0, "S[0]");
  check_vec(&s[8 * 1], s1, "S[1]");
  check_vec(&s[8 * 21], s21, "S[21]");
  check_vec(&s[8 * 226], s226, "S[226]");
  check_vec(&s[8 * 227], s227, "S[227]");
}

// §3.3 / §10.2.2: packed words, recomputed here from S, and the listed values.
void test_packed_table() {
  const std::vector<float> s = abs_table();
  std::vector<int32_t> packed(256);
  CHECK_OK(qs_e8p_packed_table(packed.data()));
  uint32_t sum = 0;
  for (int k = 0; k < 256; ++k) {
    int row_sum_twice = 0;
    for (int j = 0; j < 8; ++j) row_sum_twice += static_cast<int>(2.0f * s[8 * k + j]);
    const bool odd = (row_sum_twice / 2) % 2 == 1;
    uint32_t want = 0;
    for (int p = 0; p < 8; ++p) {
      const int j = kSlotCoord[p];
      double b = s[8 * k + j];
      if (j == 7 && odd) b = -b;
      want |= static_cast<uint32_t>(2.0 * b + 8.0) << (4 * p);
    }
    CHECK(static_cast<uint32_t>(packed[k]) == want);
    sum += static_cast<uint32_t>(packed[k]);
  }
  CHECK(sum == 0xF9BD7714u);
  const int idx[8] = {0, 1, 2, 3, 21, 226, 227, 255};
  const uint32_t val[8] = {0x99999999u, 0x59999999u, 0xD9999999u, 0x7999B999u,
                           0x5999BB99u, 0x799B999Du, 0x5B99BB9Bu, 0x7B9BBB9Bu};
  for (int i = 0; i < 8; ++i) CHECK(static_cast<uint32_t>(packed[idx[i]]) == val[i]);
}

// §3.4 worked examples.
void test_decode_examples() {
  const uint16_t codes[5] = {0x0000, 0x0001, 0x0102, 0x15A7, 0xFFFF};
  const double want[5][8] = {{.75, .75, .75, .75, .75, .75, .75, .75},
                             {.25, .25, .25, .25, .25, .25, .25, .25},
                             {-.75, .25, -.75, .25, .25, .25, .25, -1.75},
                             {.25, .25, -.75, -.75, -1.75, .25, 1.25, 1.25},
                             {-1.25, -1.25, -.25, -.25, -1.25, -1.25, -1.25, .75}};
  float out[5 * 8];
  CHECK_OK(qs_e8p_decode(codes, 5, out));
  const char* names[5] = {"0x0000", "0x0001", "0x0102", "0x15A7", "0xFFFF"};
  for (int i = 0; i < 5; ++i) check_vec(out + 8 * i, want[i], names[i]);
}

// §10.2.3 and §10.2.8 over the whole codebook.
void test_codebook_structure(const std::vector<float>& cw) {
  std::vector<std::array<float, 8>> sorted(kCodes);
  int plus = 0, minus = 0;
  double mean[8] = {0};
  std::map<int, int> hist;
  bool lattice_ok = true;
  for (int c = 0; c < kCodes; ++c) {
    const float* v = &cw[8 * static_cast<size_t>(c)];
    for (int j = 0; j < 8; ++j) sorted[c][j] = v[j];
    // Fractional part 3/4 everywhere (shift +1/4) or 1/4 everywhere (shift -1/4).
    int frac[8];
    for (int j = 0; j < 8; ++j) {
      const double f = v[j] - std::floor(v[j]);
      frac[j] = f == 0.75 ? 3 : (f == 0.25 ? 1 : -1);
    }
    const bool all3 = std::all_of(frac, frac + 8, [](int f) { return f == 3; });
    const bool all1 = std::all_of(frac, frac + 8, [](int f) { return f == 1; });
    lattice_ok = lattice_ok && (all3 || all1);
    plus += all3;
    minus += all1;
    const double shift = all3 ? 0.25 : -0.25;
    // v - shift in D8-hat: half-integers with an even sum.
    double sum = 0, norm = 0;
    for (int j = 0; j < 8; ++j) {
      const double u = v[j] - shift;
      lattice_ok = lattice_ok && (u - std::floor(u)) == 0.5;
      sum += u;
      norm += u * u;
      mean[j] += v[j];
    }
    lattice_ok = lattice_ok && std::fmod(std::fabs(sum), 2.0) == 0.0;
    ++hist[static_cast<int>(norm)];
  }
  CHECK(lattice_ok);
  CHECK(plus == 32768 && minus == 32768);
  for (int j = 0; j < 8; ++j) CHECK(mean[j] == 0.0);
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  CHECK(hist.size() == 6);
  CHECK(hist[2] == 256 && hist[4] == 2048 && hist[6] == 7168);
  CHECK(hist[8] == 16384 && hist[10] == 32256 && hist[12] == 7424);

  // Kernel-style decode from the packed table (§7.2/§7.3): parity -> shift, fix bit 0, negate a
  // nibble by XOR 0b1110, value = (nibble - 8)/2 +- 1/4 at coordinate pi(slot).
  std::vector<int32_t> packed(256);
  CHECK_OK(qs_e8p_packed_table(packed.data()));
  int mismatches = 0;
  for (int c = 0; c < kCodes; ++c) {
    const uint32_t word = static_cast<uint32_t>(packed[c >> 8]);
    uint32_t r = c & 0xFF;
    uint32_t parity = 0;
    for (int b = 0; b < 8; ++b) parity ^= (r >> b) & 1u;
    r ^= parity;
    for (int p = 0; p < 8; ++p) {
      uint32_t nib = (word >> (4 * p)) & 0xF;
      if ((r >> p) & 1) nib ^= 0xE;
      const float value = (static_cast<float>(nib) - 8.0f) * 0.5f + (parity ? -0.25f : 0.25f);
      mismatches += value != cw[8 * static_cast<size_t>(c) + kSlotCoord[p]];
    }
  }
  CHECK(mismatches == 0);
}

void test_encode_examples() {
  const float x[16] = {0.3f,  -1.2f, 0.8f,  2.1f,  -0.4f, 0.05f, -0.9f, 1.6f,
                       -.75f, -.75f, -.75f, -.75f, -.75f, -.75f, -.75f, -.75f};
  uint16_t codes[2];
  float out[16];
  CHECK_OK(qs_e8p_encode(x, 2, codes, out));
  CHECK(codes[0] == 0x735C);
  CHECK(codes[1] == 0x00FE);
  const double want0[8] = {.75, -1.25, .75, 1.75, -.25, -.25, -1.25, 1.75};
  check_vec(out, want0, "encode(x0)");
  for (int j = 0; j < 8; ++j) CHECK(out[8 + j] == -0.75f);
  // Without the optional output.
  uint16_t again[2];
  CHECK_OK(qs_e8p_encode(x, 2, again, nullptr));
  CHECK(again[0] == codes[0] && again[1] == codes[1]);
}

void test_encode_decode_roundtrip(const std::vector<float>& cw) {
  std::vector<uint16_t> codes(kCodes);
  std::vector<float> out(cw.size());
  CHECK_OK(qs_e8p_encode(cw.data(), kCodes, codes.data(), out.data()));
  int wrong = 0;
  for (int c = 0; c < kCodes; ++c) wrong += codes[c] != c;
  CHECK(wrong == 0);
  CHECK(out == cw);
}

// Smallest squared distance from x to any codeword: every codeword, direct form in float (relative
// accuracy ~1e-7 of the distance itself), vectorised over the codeword axis.
struct BruteForce {
  std::vector<float> t;  // 8 x 65536, coordinate-major
  explicit BruteForce(const std::vector<float>& cw) : t(8 * static_cast<size_t>(kCodes)) {
    for (int c = 0; c < kCodes; ++c)
      for (int j = 0; j < 8; ++j)
        t[static_cast<size_t>(j) * kCodes + c] = cw[8 * static_cast<size_t>(c) + j];
  }
  float min_distance(const float* x) const {
    constexpr int kChunk = 256;
    alignas(16) float best[kChunk];
    alignas(16) float d[kChunk];
    for (int l = 0; l < kChunk; ++l) best[l] = 3e38f;
    const float* t0 = &t[0];
    for (int c0 = 0; c0 < kCodes; c0 += kChunk) {
      for (int l = 0; l < kChunk; ++l) d[l] = 0.0f;
      for (int j = 0; j < 8; ++j) {
        const float xj = x[j];
        const float* row = t0 + static_cast<size_t>(j) * kCodes + c0;
        for (int l = 0; l < kChunk; ++l) {
          const float u = xj - row[l];
          d[l] += u * u;
        }
      }
      for (int l = 0; l < kChunk; ++l) best[l] = d[l] < best[l] ? d[l] : best[l];
    }
    float m = best[0];
    for (int l = 1; l < kChunk; ++l) m = best[l] < m ? best[l] : m;
    return m;
  }
};

double distance2(const float* x, const float* c) {
  double d = 0;
  for (int j = 0; j < 8; ++j) {
    const double u = static_cast<double>(x[j]) - c[j];
    d += u * u;
  }
  return d;
}

void test_encoder_matches_brute_force(const std::vector<float>& cw) {
  const BruteForce bf(cw);
  Rng rng(12345);
  const int per_kind = 4000;
  const char* kinds[6] = {"N(0, 0.25^2)", "N(0, 1)",  "N(0, 2^2)",
                          "N(0, 4^2)",    "U[-3, 3]", "quarter grid"};
  const double scales[4] = {0.25, 1.0, 2.0, 4.0};
  int total = 0;
  for (int kind = 0; kind < 6; ++kind) {
    std::vector<float> x(8 * per_kind);
    for (float& v : x) {
      if (kind < 4) v = static_cast<float>(scales[kind] * rng.normal());
      if (kind == 4) v = static_cast<float>(-3.0 + 6.0 * rng.uniform());
      // Multiples of 1/4 in [-3, 3] (zeros included): many exact ties between codewords and between
      // sign choices; the distance must still be the minimum.
      if (kind == 5) v = static_cast<float>(static_cast<int>(rng.next() % 25) - 12) * 0.25f;
    }
    std::vector<uint16_t> codes(per_kind);
    std::vector<float> out(x.size());
    CHECK_OK(qs_e8p_encode(x.data(), per_kind, codes.data(), out.data()));
    std::vector<float> dec(x.size());
    CHECK_OK(qs_e8p_decode(codes.data(), per_kind, dec.data()));
    CHECK(dec == out);
    int worse = 0;
    double worst = 0;
    for (int i = 0; i < per_kind; ++i) {
      const double d_enc = distance2(&x[8 * i], &out[8 * i]);
      const double d_bf = bf.min_distance(&x[8 * i]);
      const double tol = 1e-5 * d_bf + 1e-7;
      if (std::fabs(d_enc - d_bf) > tol) ++worse;
      worst = std::max(worst, (d_enc - d_bf) / std::max(d_bf, 1e-30));
    }
    std::printf(
        "brute force %-13s: %d vectors, %d differ by > 1e-5 relative, max rel. excess %.2e\n",
        kinds[kind], per_kind, worse, worst);
    CHECK(worse == 0);
    total += per_kind;
  }
  CHECK(total == 24000);
}

// MSE per coordinate of x_hat = Q(rho x)/rho on i.i.d. N(0,1) (§3.6).
double mse_at(const std::vector<float>& x, double rho) {
  const int64_t count = static_cast<int64_t>(x.size() / 8);
  std::vector<float> scaled(x.size()), out(x.size());
  for (size_t i = 0; i < x.size(); ++i) scaled[i] = static_cast<float>(rho * x[i]);
  std::vector<uint16_t> codes(static_cast<size_t>(count));
  CHECK_OK(qs_e8p_encode(scaled.data(), count, codes.data(), out.data()));
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
  const double rhos[8] = {0.90, 0.95, 1.00, 1.02, 1.03, 1.04, 1.05, 1.10};
  const double spec[8] = {0.09918, 0.09459, 0.09220, 0.09182, 0.09174, 0.09174, 0.09180, 0.09313};
  double best = 1e9;
  std::printf("MSE on 40000 N(0,1) vectors (spec §3.6, its own sample):\n");
  for (int i = 0; i < 8; ++i) {
    const double m = mse_at(x, rhos[i]);
    std::printf("  rho %.2f: %.5f (spec %.5f)\n", rhos[i], m, spec[i]);
    best = std::min(best, m);
    // §10.2.7: within +-0.0005. Not the spec's sample (numpy, seed 0) but one of the same size:
    // each value's standard error is ~2.5e-4, so the bound holds for a comparable sample.
    CHECK_NEAR(m, spec[i], 0.0005);
    if (rhos[i] >= 1.02 && rhos[i] <= 1.05) best = std::min(best, m);
  }
  CHECK(best <= 0.0920);

  // A 4096 x 4096 matrix worth of vectors at rho = 1.03: the spec's large sample, 0.09137 +- 2e-4.
  const int64_t big = 2 * 1024 * 1024;
  std::vector<float> y(8 * static_cast<size_t>(big)), out(y.size());
  Rng rng2(7);
  for (float& v : y) v = static_cast<float>(1.03 * rng2.normal());
  std::vector<uint16_t> codes(static_cast<size_t>(big));
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_OK(qs_e8p_encode(y.data(), big, codes.data(), out.data()));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double sum = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double e = (static_cast<double>(out[i]) - y[i]) / 1.03;
    sum += e * e;
  }
  const double m = sum / static_cast<double>(y.size());
  std::printf(
      "MSE on %lld N(0,1) vectors at rho 1.03: %.5f (spec 0.09137 +- 0.0002); encode %.3f s "
      "(%.1f M vectors/s, informative)\n",
      static_cast<long long>(big), m, seconds, big / seconds / 1e6);
  CHECK_NEAR(m, 0.09137, 0.0003);
}

void test_errors() {
  float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  uint16_t code = 0;
  float out[8];
  CHECK_STATUS(qs_e8p_abs_table(nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_packed_table(nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_decode(nullptr, 1, out), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_decode(&code, 1, nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_decode(&code, -1, out), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_encode(nullptr, 1, &code, out), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_encode(x, 1, nullptr, out), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_e8p_encode(x, -3, &code, out), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "-3") != nullptr);
  CHECK_OK(qs_e8p_encode(x, 0, nullptr, nullptr));  // empty input is fine
  x[5] = std::nanf("");
  CHECK_STATUS(qs_e8p_encode(x, 1, &code, out), QS_ERR_NON_FINITE);
  CHECK(std::strstr(qs_last_error(), "x[5]") != nullptr);
  x[5] = INFINITY;
  CHECK_STATUS(qs_e8p_encode(x, 1, &code, out), QS_ERR_NON_FINITE);
  x[5] = 5;
  CHECK_OK(qs_e8p_encode(x, 1, &code, out));
  CHECK(qs_last_error()[0] == '\0');
  // Huge but finite values: a valid code, no crash (the distance arithmetic may overflow in float).
  const float huge[16] = {1e30f, -1e30f, 3e38f, -3e38f, 1e-40f, 0,      0,      0,
                          1e20f, 1e20f,  1e20f, 1e20f,  -1e20f, -1e20f, -1e20f, -1e20f};
  uint16_t hc[2];
  float hout[16];
  CHECK_OK(qs_e8p_encode(huge, 2, hc, hout));
  float dec[16];
  CHECK_OK(qs_e8p_decode(hc, 2, dec));
  CHECK(std::equal(dec, dec + 16, hout));
}

}  // namespace

int main() {
  test_abs_table();
  test_packed_table();
  test_decode_examples();
  const std::vector<float> cw = all_codewords();
  test_codebook_structure(cw);
  test_encode_examples();
  test_encode_decode_roundtrip(cw);
  test_encoder_matches_brute_force(cw);
  test_mse();
  test_errors();
  TEST_MAIN_END();
}
