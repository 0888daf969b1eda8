// Composite codebooks (QUIPSHARP.md §4): E8P12, E8P12RVQ4B, E8P12RVQ3B and the E81B table.
#include "quant/codebook.hpp"

#include <cmath>
#include <cstring>

#include "quant/e8p12.hpp"
#include "kernels/cpu_features.hpp"
#include "common/status.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QS_CODEBOOK_X86 1
#endif

namespace qs {
namespace {

constexpr CodebookInfo kCodebooks[] = {
    {kCodebookE8p12, "E8P12", 2, 1.03, 0.0},
    {kCodebookE8p12Rvq4, "E8P12RVQ4B", 4, 1.03, 3.45},
    {kCodebookE8p12Rvq3, "E8P12RVQ3B", 3, 0.98, 2.04},
};

// ---- E81B (§4.3) ------------------------------------------------------------------------------
//
// Rows 0..112: integer points of norm^2 <= 2 (origin and the 112 vectors with two entries +-1),
// ascending lexicographic; rows 113..240: (+-1/2)^8 with an even number of minus signs, ascending
// lexicographic; rows 241..248: +2 e_0 .. +2 e_7; rows 249..255: -2 e_0 .. -2 e_6.
//
// Exact nearest row without a scan; with ||x||^2 dropped, each family's best member costs
//   origin:       0
//   two entries:  2 - 2 (largest |x_j| + second largest), with the signs of x
//   halves:       2 - sum |x_j|, plus 2 min |x_j| (flipping that one) if x has an odd number of
//                 negative entries
//   +-2 e_i:      4 - 4 x_i (i = 0..7), 4 + 4 x_i (i = 0..6)

constexpr int kE81bRows = 256;

struct E81bTables {
  float rows[kE81bRows][8];
  int origin;
  int16_t pair_row[8][8][2][2];  // [i][j][sign_i negative][sign_j negative], i < j
  int16_t half_row[256];         // bit j of the index: coordinate j is -1/2
  int16_t plus2_row[8];
  int16_t minus2_row[8];  // -1 where absent (coordinate 7)
};

E81bTables build_e81b() {
  E81bTables t;
  std::memset(&t, 0, sizeof t);
  int n = 0;
  // Counting in base 3 with digits (-1, 0, 1), coordinate 0 most significant: ascending order.
  for (int code = 0; code < 6561; ++code) {
    int v[8];
    int nonzero = 0;
    for (int j = 0, c = code; j < 8; ++j) {
      const int digit = c % 3;
      c /= 3;
      v[7 - j] = digit - 1;
    }
    for (int j = 0; j < 8; ++j) nonzero += v[j] != 0;
    if (nonzero != 0 && nonzero != 2) continue;
    for (int j = 0; j < 8; ++j) t.rows[n][j] = static_cast<float>(v[j]);
    ++n;
  }
  if (n != 113) fail(QS_ERR_INTERNAL, "E81B: ", n, " integer rows, expected 113");
  // base-2 counting with bit 0 -> -1/2, 1 -> +1/2, coordinate 0 most significant.
  for (int code = 0; code < 256; ++code) {
    int minus = 0;
    for (int j = 0; j < 8; ++j) minus += ((code >> (7 - j)) & 1) == 0;
    if (minus & 1) continue;
    for (int j = 0; j < 8; ++j) t.rows[n][j] = ((code >> (7 - j)) & 1) ? 0.5f : -0.5f;
    ++n;
  }
  for (int i = 0; i < 8; ++i, ++n) t.rows[n][i] = 2.0f;
  for (int i = 0; i < 7; ++i, ++n) t.rows[n][i] = -2.0f;
  if (n != kE81bRows) fail(QS_ERR_INTERNAL, "E81B: ", n, " rows");

  // Reverse maps for the encoder.
  t.origin = -1;
  for (int i = 0; i < 8; ++i) t.minus2_row[i] = -1;
  for (int k = 0; k < kE81bRows; ++k) {
    const float* r = t.rows[k];
    int nz[8], count = 0, halves = 0, mask = 0;
    for (int j = 0; j < 8; ++j) {
      if (r[j] != 0.0f) nz[count++] = j;
      if (r[j] == 0.5f || r[j] == -0.5f) ++halves;
      if (r[j] < 0.0f) mask |= 1 << j;
    }
    if (count == 0) {
      t.origin = k;
    } else if (halves == 8) {
      t.half_row[mask] = static_cast<int16_t>(k);
    } else if (count == 2) {
      t.pair_row[nz[0]][nz[1]][r[nz[0]] < 0][r[nz[1]] < 0] = static_cast<int16_t>(k);
    } else if (r[nz[0]] > 0) {
      t.plus2_row[nz[0]] = static_cast<int16_t>(k);
    } else {
      t.minus2_row[nz[0]] = static_cast<int16_t>(k);
    }
  }
  return t;
}

const E81bTables& e81b() {
  static const E81bTables t = build_e81b();
  return t;
}

struct Stage2 {
  bool e81b;  // false: E8P12
  float rho2;
};

inline uint32_t quantize_one(bool rvq, Stage2 s2, const float* x, float* out) {
  float q1[8];
  const uint32_t c1 = e8p_encode_one(x, q1);
  if (!rvq) {
    if (out != nullptr) std::memcpy(out, q1, sizeof q1);
    return c1;
  }
  float r[8], q2[8];
  for (int j = 0; j < 8; ++j) r[j] = (x[j] - q1[j]) * s2.rho2;
  const uint32_t c2 = s2.e81b ? e81b_encode_one(r, q2) : e8p_encode_one(r, q2);
  if (out != nullptr)
    for (int j = 0; j < 8; ++j) out[j] = q1[j] + q2[j] / s2.rho2;
  return (c1 << 16) | c2;
}

Stage2 stage2_of(int32_t id, double resid_scale) {
  return Stage2{id == kCodebookE8p12Rvq3,
                static_cast<float>(effective_resid_scale(id, resid_scale))};
}

}  // namespace

bool is_codebook_id(int32_t id) {
  for (const CodebookInfo& c : kCodebooks)
    if (c.id == id) return true;
  return false;
}

const CodebookInfo& codebook_info(int32_t id) {
  for (const CodebookInfo& c : kCodebooks)
    if (c.id == id) return c;
  fail(QS_ERR_INVALID_ARGUMENT, "codebook_id = ", id,
       " is not a codebook id (valid: ", kCodebookE8p12, " E8P12, ", kCodebookE8p12Rvq4,
       " E8P12RVQ4B, ", kCodebookE8p12Rvq3, " E8P12RVQ3B)");
}

double effective_resid_scale(int32_t id, double resid_scale) {
  const CodebookInfo& info = codebook_info(id);
  if (id == kCodebookE8p12) return 0.0;
  if (!std::isfinite(resid_scale))
    fail(QS_ERR_NON_FINITE, "resid_scale = ", resid_scale, " is not finite");
  return resid_scale > 0.0 ? resid_scale : info.opt_resid_scale;
}

const float* e81b_table() { return &e81b().rows[0][0]; }

uint8_t e81b_encode_one(const float* x, float* out) {
  const E81bTables& t = e81b();
  // Largest two |x_j| (first occurrence on ties), smallest |x_j|, sum |x|, negatives.
  int i1 = 0, i2 = -1, imin = 0;
  float a1 = std::fabs(x[0]), a2 = -1.0f, amin = a1, sum_abs = a1;
  int neg_mask = x[0] < 0.0f ? 1 : 0;
  int jmax = 0, jmin = 0;  // largest / smallest x_j for the +-2 e_j rows
  for (int j = 1; j < 8; ++j) {
    const float a = std::fabs(x[j]);
    sum_abs += a;
    if (x[j] < 0.0f) neg_mask |= 1 << j;
    if (a > a1) {
      a2 = a1;
      i2 = i1;
      a1 = a;
      i1 = j;
    } else if (a > a2) {
      a2 = a;
      i2 = j;
    }
    if (a < amin) {
      amin = a;
      imin = j;
    }
    if (x[j] > x[jmax]) jmax = j;
    if (j < 7 && x[j] < x[jmin]) jmin = j;
  }

  float best = 0.0f;  // origin
  int row = t.origin;
  const float pair = 2.0f - 2.0f * (a1 + a2);
  if (pair < best) {
    best = pair;
    const int lo = i1 < i2 ? i1 : i2, hi = i1 < i2 ? i2 : i1;
    row = t.pair_row[lo][hi][x[lo] < 0.0f][x[hi] < 0.0f];
  }
  int half_mask = neg_mask;
  float half = 2.0f - sum_abs;
  if (parity8(static_cast<unsigned>(neg_mask))) {
    half += 2.0f * amin;
    half_mask ^= 1 << imin;
  }
  if (half < best) {
    best = half;
    row = t.half_row[half_mask];
  }
  const float plus2 = 4.0f - 4.0f * x[jmax];
  if (plus2 < best) {
    best = plus2;
    row = t.plus2_row[jmax];
  }
  const float minus2 = 4.0f + 4.0f * x[jmin];
  if (minus2 < best) {
    best = minus2;
    row = t.minus2_row[jmin];
  }
  if (out != nullptr) std::memcpy(out, t.rows[row], 8 * sizeof(float));
  return static_cast<uint8_t>(row);
}

void e81b_encode(const float* x, int64_t count, uint8_t* codes, float* out) {
  for (int64_t i = 0; i < count; ++i)
    codes[i] = e81b_encode_one(x + 8 * i, out != nullptr ? out + 8 * i : nullptr);
}

void codebook_quantize(int32_t id, double resid_scale, const float* x, int64_t count,
                       uint32_t* codes, float* out) {
  const Stage2 s2 = stage2_of(id, resid_scale);
  const bool rvq = id != kCodebookE8p12;
  for (int64_t i = 0; i < count; ++i)
    codes[i] = quantize_one(rvq, s2, x + 8 * i, out != nullptr ? out + 8 * i : nullptr);
}

namespace {

// Decoding from the int8 table (e8p_times4_table; the values are multiples of 1/4, exact in float):
// the floats of e8p_decode_one, stage 1 + stage 2 / rho2 for RVQ, without its per-coordinate
// branches. The decode-to-tile GEMM of a batch forward decodes every weight once per call.
#ifdef QS_CODEBOOK_X86
__attribute__((target("avx2"))) void decode_table_avx2(bool rvq, Stage2 s2, const uint32_t* codes,
                                                       int64_t count, float* out) {
  const int8_t* t = e8p_times4_table();
  const float* e81b = e81b_table();
  const __m256 quarter = _mm256_set1_ps(0.25f), rho2 = _mm256_set1_ps(s2.rho2);
  const auto e8p = [&](uint32_t code) __attribute__((target("avx2"))) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(t + 8 * (code & 0xFFFFu)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), quarter);
  };
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t c = codes[i];
    if (!rvq) {
      _mm256_storeu_ps(out + 8 * i, e8p(c));
      continue;
    }
    const __m256 q2 = s2.e81b ? _mm256_loadu_ps(e81b + 8 * (c & 0xFFu)) : e8p(c);
    _mm256_storeu_ps(out + 8 * i, _mm256_add_ps(e8p(c >> 16), _mm256_div_ps(q2, rho2)));
  }
}
#endif

void decode_table_scalar(bool rvq, Stage2 s2, const uint32_t* codes, int64_t count, float* out) {
  const int8_t* t = e8p_times4_table();
  const float* e81b = e81b_table();
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t c = codes[i];
    float* o = out + 8 * i;
    const int8_t* q1 = t + 8 * ((rvq ? c >> 16 : c) & 0xFFFFu);
    for (int j = 0; j < 8; ++j) o[j] = q1[j] * 0.25f;
    if (!rvq) continue;
    const int8_t* q2 = t + 8 * (c & 0xFFFFu);
    for (int j = 0; j < 8; ++j) o[j] += (s2.e81b ? e81b[8 * (c & 0xFFu) + j] : q2[j] * 0.25f) / s2.rho2;
  }
}

}  // namespace

void codebook_decode(int32_t id, double resid_scale, const uint32_t* codes, int64_t count,
                     float* out) {
  const Stage2 s2 = stage2_of(id, resid_scale);
  const bool rvq = id != kCodebookE8p12;
#ifdef QS_CODEBOOK_X86
  if (kernel_for_auto() >= QS_KERNEL_AVX2) {
    decode_table_avx2(rvq, s2, codes, count, out);
    return;
  }
#endif
  decode_table_scalar(rvq, s2, codes, count, out);
}

void validate_codes(int32_t id, const uint32_t* codes, int64_t count, const char* name) {
  codebook_info(id);
  uint32_t mask = 0;  // bits that must be zero
  if (id == kCodebookE8p12) mask = 0xFFFF0000u;
  if (id == kCodebookE8p12Rvq3) mask = 0x0000FF00u;
  if (mask == 0) return;
  for (int64_t i = 0; i < count; ++i) {
    if (codes[i] & mask) {
      if (id == kCodebookE8p12)
        fail(QS_ERR_INVALID_ARGUMENT, name, "[", i, "] = ", codes[i],
             " is not an E8P12 code (must be < 65536)");
      fail(QS_ERR_INVALID_ARGUMENT, name, "[", i, "] = ", codes[i], ": its E81B stage-2 index ",
           codes[i] & 0xFFFFu, " must be < 256");
    }
  }
}

}  // namespace qs

// ---- C boundary -------------------------------------------------------------------------------

extern "C" int32_t qs_e81b_table(float* out) {
  return qs::guard([&] {
    qs::require_not_null(out, "out");
    std::memcpy(out, qs::e81b_table(), sizeof(float) * 256 * 8);
  });
}

extern "C" int32_t qs_e81b_encode(const float* x, int64_t count, uint8_t* codes, float* out) {
  return qs::guard([&] {
    qs::require_count(count, "count");
    qs::require_buffer(x, count, "x");
    qs::require_buffer(codes, count, "codes");
    qs::require_finite(x, 8 * count, "x");
    qs::e81b_encode(x, count, codes, out);
  });
}

extern "C" int32_t qs_codebook_info(int32_t codebook_id, int32_t* bits, double* opt_scale,
                                    double* opt_resid_scale) {
  return qs::guard([&] {
    const qs::CodebookInfo& info = qs::codebook_info(codebook_id);
    if (bits != nullptr) *bits = info.bits;
    if (opt_scale != nullptr) *opt_scale = info.opt_scale;
    if (opt_resid_scale != nullptr) *opt_resid_scale = info.opt_resid_scale;
  });
}

extern "C" int32_t qs_codebook_quantize(int32_t codebook_id, double resid_scale, const float* x,
                                        int64_t count, uint32_t* codes, float* out) {
  return qs::guard([&] {
    qs::effective_resid_scale(codebook_id, resid_scale);  // validates id and scale
    qs::require_count(count, "count");
    qs::require_buffer(x, count, "x");
    qs::require_buffer(codes, count, "codes");
    qs::require_finite(x, 8 * count, "x");
    qs::codebook_quantize(codebook_id, resid_scale, x, count, codes, out);
  });
}

extern "C" int32_t qs_codebook_decode(int32_t codebook_id, double resid_scale,
                                      const uint32_t* codes, int64_t count, float* out) {
  return qs::guard([&] {
    qs::effective_resid_scale(codebook_id, resid_scale);
    qs::require_count(count, "count");
    qs::require_buffer(codes, count, "codes");
    qs::require_buffer(out, count, "out");
    qs::validate_codes(codebook_id, codes, count, "codes");
    qs::codebook_decode(codebook_id, resid_scale, codes, count, out);
  });
}
