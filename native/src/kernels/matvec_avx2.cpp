// The AVX2 (+ FMA, F16C) CPU mat-vec kernels: the codebook kernels (the same integers as the scalar
// reference in matvec_scalar.cpp) and the fp32 / fp16 baselines (float lanes; the reference sums in
// double). See matvec_kernels.hpp.
#include "kernels/matvec_kernels.hpp"

#ifdef QS_X86
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "quant/e8p12.hpp"

namespace qs {
namespace matvec {
namespace {

// quantize_activation in AVX2: the same maximum, the same double products and the same rounding
// (cvtpd2dq and lrint both round to nearest even under the default MXCSR), so the same integers.
__attribute__((target("avx2"))) double quantize_activation_impl(const float* u, int64_t n,
                                                                int32_t levels,
                                                                std::vector<int16_t>& uq) {
  uq.assign(static_cast<size_t>(n), 0);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  __m256 m = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(u + i)));
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  float max_abs = 0.0f;
  for (float v : lanes) max_abs = std::max(max_abs, v);
  for (; i < n; ++i) max_abs = std::max(max_abs, std::fabs(u[i]));
  if (max_abs == 0.0f) return 0.0;
  const double q = levels / static_cast<double>(max_abs);
  const __m256d qv = _mm256_set1_pd(q);
  const __m128i hi = _mm_set1_epi32(levels), lo = _mm_set1_epi32(-levels);
  for (i = 0; i + 4 <= n; i += 4) {
    const __m128i r = _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(u + i)), qv));
    const __m128i c = _mm_max_epi32(_mm_min_epi32(r, hi), lo);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(uq.data() + i), _mm_packs_epi32(c, c));
  }
  for (; i < n; ++i) uq[i] = round_activation(u[i], q, levels);
  return static_cast<double>(max_abs) / levels;
}

__attribute__((target("avx2"))) inline int64_t hsum_epi32(__m256i v) {
  // Widen to int64 before adding so that lane sums near 2^31 cannot overflow.
  const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
  const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
  const __m256i s = _mm256_add_epi64(lo, hi);
  alignas(32) int64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), s);
  return t[0] + t[1] + t[2] + t[3];
}

// The AVX2 codebook kernels work on 8 codes (64 weights) per step, code-major: 32-bit lane i holds
// the 8 nibbles of code i (nibble p = slot p, coordinate kE8pSlotCoord[p]), and give the same integers
// as the scalar kernel:
// - E8P12 (§3.3/§3.4 in nibble form): packed[k] of the S-row k from a 1 KiB table (a 128-bit
//   broadcast load and a dword blend per code, one insert per 8: faster on Zen 4 than vpgatherdd or
//   256-bit broadcasts), XORed with the flips of the sign byte r computed in registers: the slot
//   flips 0x0E / 0xE0 of bits 2b, 2b + 1 of r in byte b (one vpshufb on those two bits), and when r
//   has odd parity the -1/4 shift 0x11 in every byte plus the implied flip of slot 0
//   (e_0 = r_0 ^ parity): 0x1F in byte 0 (a vpshufb parity table on r_lo ^ r_hi).
//   4 * codeword = 2 nu' - 15 per nibble.
// - E81B (§4.3): nibble = 2 * entry + 4 (0..8), from a 1 KiB table the same way.
// vpmaddubsw (unsigned nibble x signed byte, pairs summed into int16) multiplies the low and the
// high nibbles (shifted down) with their activations; 16-bit activations are split as x = 256 xh + xl
// (int8 parts) as on AVX-512.
struct Avx2Tables {
  alignas(32) uint32_t e8p[256];   // packed[k]
  alignas(32) uint32_t e81b[256];  // nibble p = 2 * entry[k][kE8pSlotCoord[p]] + 4
};

const Avx2Tables& avx2_tables() {
  static const Avx2Tables t = [] {
    Avx2Tables a{};
    const IntTables& it = int_tables();
    for (int k = 0; k < 256; ++k) {
      a.e8p[k] = static_cast<uint32_t>(it.packed[k]);
      for (int p = 0; p < 8; ++p)
        a.e81b[k] |= static_cast<uint32_t>(it.e81b[k * 8 + kE8pSlotCoord[p]] + 4) << (4 * p);
    }
    return a;
  }();
  return t;
}

// Eight table words into the lanes of one vector (i0..i7: the table indices, written out so that
// every optimization level keeps them in registers).
__attribute__((target("avx2"), always_inline)) inline __m256i table_lanes(
    const uint32_t* t, uint32_t i0, uint32_t i1, uint32_t i2, uint32_t i3, uint32_t i4, uint32_t i5,
    uint32_t i6, uint32_t i7) {
  __m128i a = _mm_cvtsi32_si128(static_cast<int>(t[i0]));
  __m128i b = _mm_cvtsi32_si128(static_cast<int>(t[i4]));
  a = _mm_blend_epi32(a, _mm_set1_epi32(static_cast<int>(t[i1])), 0x2);
  b = _mm_blend_epi32(b, _mm_set1_epi32(static_cast<int>(t[i5])), 0x2);
  a = _mm_blend_epi32(a, _mm_set1_epi32(static_cast<int>(t[i2])), 0x4);
  b = _mm_blend_epi32(b, _mm_set1_epi32(static_cast<int>(t[i6])), 0x4);
  a = _mm_blend_epi32(a, _mm_set1_epi32(static_cast<int>(t[i3])), 0x8);
  b = _mm_blend_epi32(b, _mm_set1_epi32(static_cast<int>(t[i7])), 0x8);
  return _mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1);
}

// Byte `at` of a little-endian word.
inline uint32_t byte_of(uint64_t w, int at) { return static_cast<uint32_t>(w >> (8 * at)) & 0xFF; }

// The nibbles nu' of 8 E8P12 codes.
__attribute__((target("avx2"), always_inline)) inline __m256i e8p_nibbles_avx2(const Avx2Tables& t,
                                                                              const uint16_t* c) {
  uint64_t q0, q1;  // codes 0-3 and 4-7: S-row k in the odd bytes, sign byte r in the even ones
  std::memcpy(&q0, c, 8);
  std::memcpy(&q1, c + 4, 8);
  const __m256i packed = table_lanes(t.e8p, byte_of(q0, 1), byte_of(q0, 3), byte_of(q0, 5), byte_of(q0, 7),
                                     byte_of(q1, 1), byte_of(q1, 3), byte_of(q1, 5), byte_of(q1, 7));
  // r (the low byte of code i) in every byte of lane i.
  const __m256i spread_r = _mm256_setr_epi8(0, 0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 6, 6, 6, 6, 8, 8, 8, 8,
                                            10, 10, 10, 10, 12, 12, 12, 12, 14, 14, 14, 14);
  const __m256i r = _mm256_shuffle_epi8(
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c))), spread_r);
  const __m256i r4 = _mm256_srli_epi32(r, 4);
  // Byte b: bits 2b, 2b + 1 of r at bits 0-1 (even b) or 2-3 (odd b) -> 0x0E / 0xE0 / 0xEE.
  const __m256i pair_bits = _mm256_set1_epi32(0x0C030C03);
  const __m256i slot_flips = _mm256_setr_epi8(
      0, 0x0E, static_cast<char>(0xE0), static_cast<char>(0xEE), 0x0E, 0, 0, 0, static_cast<char>(0xE0), 0,
      0, 0, static_cast<char>(0xEE), 0, 0, 0, 0, 0x0E, static_cast<char>(0xE0), static_cast<char>(0xEE),
      0x0E, 0, 0, 0, static_cast<char>(0xE0), 0, 0, 0, static_cast<char>(0xEE), 0, 0, 0);
  const __m256i flips =
      _mm256_shuffle_epi8(slot_flips, _mm256_and_si256(_mm256_blend_epi16(r, r4, 0xAA), pair_bits));
  // Parity of r = parity of r_lo ^ r_hi: 0xFF per byte when odd.
  const __m256i odd_parity = _mm256_setr_epi8(0, -1, -1, 0, -1, 0, 0, -1, -1, 0, 0, -1, 0, -1, -1, 0, 0,
                                              -1, -1, 0, -1, 0, 0, -1, -1, 0, 0, -1, 0, -1, -1, 0);
  const __m256i parity = _mm256_shuffle_epi8(
      odd_parity, _mm256_and_si256(_mm256_xor_si256(r, r4), _mm256_set1_epi8(0x0F)));
  const __m256i shift = _mm256_and_si256(parity, _mm256_set1_epi32(0x1111111F));
  return _mm256_xor_si256(packed, _mm256_xor_si256(flips, shift));
}

// The nibbles 2 * entry + 4 of 8 E81B indices.
__attribute__((target("avx2"), always_inline)) inline __m256i e81b_nibbles_avx2(const Avx2Tables& t,
                                                                               const uint8_t* c) {
  uint64_t q;
  std::memcpy(&q, c, 8);
  return table_lanes(t.e81b, byte_of(q, 0), byte_of(q, 1), byte_of(q, 2), byte_of(q, 3), byte_of(q, 4),
                     byte_of(q, 5), byte_of(q, 6), byte_of(q, 7));
}

// int16 sums of nibble * activation over up to 4 groups (|sum| <= 4 * 2 * 2 * 15 * 128 = 30720),
// for the low and (16-bit activations) high activation parts.
struct Acc256 {
  __m256i low16, high16, low32, high32;
};

// One group: xg holds the activations of the low slots (nibble bits 0-3 of each byte) and of the high
// slots (bits 4-7), then with 16-bit activations the high parts of both.
template <bool kSplit>
__attribute__((target("avx2"), always_inline)) inline void acc_group_avx2(Acc256& a, __m256i nib,
                                                                          const int8_t* xg) {
  const __m256i mask = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(nib, mask);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(nib, 4), mask);
  const __m256i* x = reinterpret_cast<const __m256i*>(xg);
  a.low16 = _mm256_add_epi16(a.low16, _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256(x)),
                                                       _mm256_maddubs_epi16(hi, _mm256_loadu_si256(x + 1))));
  if (kSplit)
    a.high16 = _mm256_add_epi16(a.high16, _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_loadu_si256(x + 2)),
                                                           _mm256_maddubs_epi16(hi, _mm256_loadu_si256(x + 3))));
}

// Widen the int16 sums to the int32 ones.
template <bool kSplit>
__attribute__((target("avx2"), always_inline)) inline void acc_widen(Acc256& a) {
  const __m256i ones = _mm256_set1_epi16(1);
  a.low32 = _mm256_add_epi32(a.low32, _mm256_madd_epi16(a.low16, ones));
  a.low16 = _mm256_setzero_si256();
  if (kSplit) {
    a.high32 = _mm256_add_epi32(a.high32, _mm256_madd_epi16(a.high16, ones));
    a.high16 = _mm256_setzero_si256();
  }
}

// Nibble sums flushed from int32: per 4 groups a lane adds at most 2 * 30720, so 128 quads stay far
// below 2^31.
constexpr int64_t kAvx2FlushQuads = 128;

template <bool kE81b>
__attribute__((target("avx2"), always_inline)) inline __m256i stage_nibbles(const Avx2Tables& t,
                                                                           const void* codes,
                                                                           int64_t at) {
  if constexpr (kE81b) return e81b_nibbles_avx2(t, static_cast<const uint8_t*>(codes) + at);
  return e8p_nibbles_avx2(t, static_cast<const uint16_t*>(codes) + at);
}

// Row r's nibble sum of each stage over the full groups of 8 codes, with the activations in xb (the
// layout of prepare_activation: 64 bytes per group, 128 with 16-bit activations).
template <Stages kStages, bool kSplit>
__attribute__((target("avx2"), always_inline)) inline void avx2_nibble_sums(
    const Avx2Tables& t, const void* codes1, const void* codes2, int64_t r, int64_t blocks,
    const int8_t* xb, int64_t* n1, int64_t* n2) {
  constexpr bool kTwo = has_second(kStages);
  constexpr bool kFirstE81b = first_is_e81b(kStages), kSecondE81b = second_is_e81b(kStages);
  constexpr int64_t kBytes = kSplit ? 128 : 64;
  const int64_t groups = blocks / 8;
  const size_t first_size = kFirstE81b ? 1 : 2;
  const size_t second_size = kSecondE81b ? 1 : 2;
  int64_t s1 = 0, s2 = 0, h1 = 0, h2 = 0;
  for (int64_t q0 = 0; q0 < groups; q0 += 4 * kAvx2FlushQuads) {
    const int64_t q1 = std::min(groups, q0 + 4 * kAvx2FlushQuads);
    Acc256 a1{}, a2{};
    for (int64_t g0 = q0; g0 < q1; g0 += 4) {
      const int64_t at0 = r * blocks + 8 * g0;
      _mm_prefetch(static_cast<const char*>(codes1) + at0 * first_size + kPrefetchBytes, _MM_HINT_T0);
      if (kTwo)
        _mm_prefetch(static_cast<const char*>(codes2) + at0 * second_size + kPrefetchBytes, _MM_HINT_T0);
      const auto step = [&](int64_t g) __attribute__((target("avx2"), always_inline)) {
        const int64_t at = r * blocks + 8 * g;
        const int8_t* xg = xb + g * kBytes;
        acc_group_avx2<kSplit>(a1, stage_nibbles<kFirstE81b>(t, codes1, at), xg);
        if (kTwo) acc_group_avx2<kSplit>(a2, stage_nibbles<kSecondE81b>(t, codes2, at), xg);
      };
      if (g0 + 4 <= q1) {
        step(g0);
        step(g0 + 1);
        step(g0 + 2);
        step(g0 + 3);
      } else {
        for (int64_t g = g0; g < q1; ++g) step(g);
      }
      acc_widen<kSplit>(a1);
      if (kTwo) acc_widen<kSplit>(a2);
    }
    s1 += hsum_epi32(a1.low32);
    if (kSplit) h1 += hsum_epi32(a1.high32);
    if (kTwo) {
      s2 += hsum_epi32(a2.low32);
      if (kSplit) h2 += hsum_epi32(a2.high32);
    }
  }
  *n1 = 256 * h1 + s1;
  if (kTwo) *n2 = 256 * h2 + s2;
}

// Rows [r0, r1) of every stage: each row's exact integer sum of (table value) * uq per stage, the same
// integers as rows_scalar (4 * codeword for E8P12, 2 * entry for E81B). xb_total sums the activations
// of the full groups; codes past the last full group of 8 take the scalar step.
template <Stages kStages, bool kSplit>
__attribute__((target("avx2"))) void rows_avx2(const void* codes1, const void* codes2, int64_t r0,
                                               int64_t r1, int64_t blocks, const int8_t* xb,
                                               int64_t xb_total, const int16_t* uq, int64_t* sums1,
                                               int64_t* sums2) {
  constexpr bool kTwo = has_second(kStages);
  constexpr bool kFirstE81b = first_is_e81b(kStages), kSecondE81b = second_is_e81b(kStages);
  const Avx2Tables& t = avx2_tables();
  const IntTables& it = int_tables();
  const int8_t* table1 = kFirstE81b ? it.e81b.data() : it.e8p;
  const int8_t* table2 = kSecondE81b ? it.e81b.data() : it.e8p;
  const auto code = [&](const void* codes, bool e81b, int64_t i) -> uint32_t {
    return e81b ? static_cast<const uint8_t*>(codes)[i] : static_cast<const uint16_t*>(codes)[i];
  };
  for (int64_t r = r0; r < r1; ++r) {
    int64_t n1 = 0, n2 = 0;
    avx2_nibble_sums<kStages, kSplit>(t, codes1, codes2, r, blocks, xb, &n1, &n2);
    int64_t s1 = stage_sum(kFirstE81b, n1, xb_total);
    int64_t s2 = stage_sum(kSecondE81b, n2, xb_total);
    for (int64_t k = blocks / 8 * 8; k < blocks; ++k) {
      s1 += code_dot(table1, code(codes1, kFirstE81b, r * blocks + k), uq + k * 8);
      if (kTwo) s2 += code_dot(table2, code(codes2, kSecondE81b, r * blocks + k), uq + k * 8);
    }
    sums1[r] = s1;
    if (kTwo) sums2[r] = s2;
  }
}


// Dense baselines: four rows per pass share each load of x (as the codebook kernels do), with
// two accumulators per row to cover the FMA latency.
__attribute__((target("avx2,fma,f16c"))) inline double finish(__m256 a, __m256 b) {
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(a, b));
  double s = 0;
  for (float v : t) s += v;
  return s;
}

template <typename LoadRow>
__attribute__((target("avx2,fma,f16c"))) inline void dense_rows_avx2(int64_t r0, int64_t r1, int64_t n,
                                                                const float* x, float* y,
                                                                LoadRow load) {
  const int64_t vec_end = n - n % 16;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    __m256 a[4][2];
    for (auto& row : a) row[0] = row[1] = _mm256_setzero_ps();
    for (int64_t c = 0; c < vec_end; c += 16) {
      const __m256 x0 = _mm256_loadu_ps(x + c), x1 = _mm256_loadu_ps(x + c + 8);
      for (int i = 0; i < 4; ++i) {
        a[i][0] = _mm256_fmadd_ps(load(r + i, c), x0, a[i][0]);
        a[i][1] = _mm256_fmadd_ps(load(r + i, c + 8), x1, a[i][1]);
      }
    }
    for (int i = 0; i < 4; ++i) {
      double s = finish(a[i][0], a[i][1]);
      for (int64_t c = vec_end; c < n; ++c) s += static_cast<double>(load.scalar(r + i, c)) * x[c];
      y[r + i] = static_cast<float>(s);
    }
  }
  for (; r < r1; ++r) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    for (int64_t c = 0; c < vec_end; c += 16) {
      a0 = _mm256_fmadd_ps(load(r, c), _mm256_loadu_ps(x + c), a0);
      a1 = _mm256_fmadd_ps(load(r, c + 8), _mm256_loadu_ps(x + c + 8), a1);
    }
    double s = finish(a0, a1);
    for (int64_t c = vec_end; c < n; ++c) s += static_cast<double>(load.scalar(r, c)) * x[c];
    y[r] = static_cast<float>(s);
  }
}

struct F32Rows {
  const float* w;
  int64_t n;
  __attribute__((target("avx2,fma,f16c"))) __m256 operator()(int64_t r, int64_t c) const {
    return _mm256_loadu_ps(w + r * n + c);
  }
  float scalar(int64_t r, int64_t c) const { return w[r * n + c]; }
};

struct F16Rows {
  const uint16_t* w;
  int64_t n;
  __attribute__((target("avx2,fma,f16c"))) __m256 operator()(int64_t r, int64_t c) const {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + r * n + c)));
  }
  float scalar(int64_t r, int64_t c) const { return half_to_float(w[r * n + c]); }
};

__attribute__((target("avx2,fma,f16c"))) void dense_rows_for(const float* w, int64_t r0, int64_t r1,
                                                       int64_t n, const float* x, float* y) {
  dense_rows_avx2(r0, r1, n, x, y, F32Rows{w, n});
}

__attribute__((target("avx2,fma,f16c"))) void dense_rows_for(const uint16_t* w, int64_t r0,
                                                            int64_t r1, int64_t n, const float* x,
                                                            float* y) {
  dense_rows_avx2(r0, r1, n, x, y, F16Rows{w, n});
}

// Rows [lo, hi) of every stage of `c` in one pass, on the AVX2 kernel.
template <bool kSplit>
void stage_rows(const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks, const Activation& a,
                int64_t* s1, int64_t* s2) {
  const auto run = [&](auto stages, const void* c1, const void* c2) {
    constexpr Stages kStages = decltype(stages)::value;
    rows_avx2<kStages, kSplit>(c1, c2, lo, hi, blocks, a.xb.data(), a.xb_total, a.uq.data(), s1, s2);
  };
  for_stages(c, run);
}

}  // namespace

double quantize_activation_avx2(const float* u, int64_t n, int32_t levels, std::vector<int16_t>& uq) {
  return quantize_activation_impl(u, n, levels, uq);
}

void layout_activation_avx2(Activation& a, int64_t n) {
  const int64_t blocks = n / 8;
  // Group g (blocks 8g..8g+7), block i, byte b: the activation of slot 2b at xb[g * G + 4i + b] and of
  // slot 2b + 1 at 32 bytes further (G = 64); with 16-bit activations these hold the low parts xl
  // and the high parts xh follow at + 64 (G = 128).
  const int64_t groups = blocks / 8, size = a.split ? 128 : 64;
  constexpr int kAt[8] = {0, 32, 1, 33, 2, 34, 3, 35};  // slot v: its byte in a block's 4 + 4
  a.xb.resize(static_cast<size_t>(groups * size));
  for (int64_t g = 0; g < groups; ++g) {
    int8_t* xg = &a.xb[g * size];
    for (int64_t i = 0; i < 8; ++i) {
      const int16_t* x = &a.uq[(8 * g + i) * 8];
      int8_t* o = xg + 4 * i;
      if (a.split) {
        for (int v = 0; v < 8; ++v) split_activation(x[kE8pSlotCoord[v]], o + kAt[v] + 64, o + kAt[v]);
      } else {
        for (int v = 0; v < 8; ++v) o[kAt[v]] = static_cast<int8_t>(x[kE8pSlotCoord[v]]);
      }
    }
  }
  a.xb_total = a.x_total;
  for (int64_t j = groups * 64; j < n; ++j) a.xb_total -= a.uq[j];
}

void stage_rows_avx2(const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks, const Activation& a,
                     int64_t* s1, int64_t* s2) {
  if (a.split) {
    stage_rows<true>(c, lo, hi, blocks, a, s1, s2);
  } else {
    stage_rows<false>(c, lo, hi, blocks, a, s1, s2);
  }
}

void dense_rows_avx2(const float* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y) {
  dense_rows_for(w, r0, r1, n, x, y);
}

void dense_rows_avx2(const uint16_t* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y) {
  dense_rows_for(w, r0, r1, n, x, y);
}

}  // namespace matvec
}  // namespace qs
#endif  // QS_X86
