// CPU mat-vec kernels for inference (§7.1 step 3): z = W~ u with W~ the decoded codebook matrix, plus
// the fp32 and fp16 baselines the benchmarks compare against.
//
// Codebook kernels work on integers. Every codeword of E8P12 times 4 is an odd integer in [-11, 11]
// (half-integers ± 1/4), every E81B entry times 2 is an integer in [-4, 4], so one table of 8 int8 per
// code holds the codebook exactly (E8P12: 65536 x 8 bytes = 512 KiB, E81B: 2 KiB). The activation u
// is quantized once per call to integers with |uq| <= L (L = 127 by default, 16383 with 16-bit
// activations; relative step 1/L of max|u|) and each row's sum of products is exact integer
// arithmetic. The scalar kernel is the reference; the AVX2 and AVX-512 kernels compute the same
// integers, so all agree bit for bit. int32 lane sums are flushed to int64 before they can overflow
// (each kernel states its bound).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QS_X86 1
#endif

#include "common/codebook.hpp"
#include "common/e8p12.hpp"
#include "common/kernel_cap.hpp"
#include "common/parallel.hpp"
#include "common/status.hpp"
#include "cpu/matvec.hpp"

namespace qs {
namespace {


// The order the integer kernels keep E81B indices in (qs_qlayer_create and qs_e81b_matvec map the
// §4.3 index to it): the 128 rows that are not half-integer points keep their relative order as
// kernel indices 0-127; the half-integer point (±1/2)^8 with signs s (s_j = 1 for -1/2, an even
// number of them) is 128 + s_0 + 2 s_1 + ... + 64 s_6, and s_7 is the parity of s_0..s_6. So the
// AVX-512 kernel decodes the upper half with one gf2p8affineqb instead of a second table lookup.
struct E81bOrder {
  uint8_t to_kernel[256];
  uint8_t to_original[256];
};

const E81bOrder& e81b_order() {
  static const E81bOrder order = [] {
    E81bOrder o{};
    const float* e = e81b_table();
    bool used[256] = {};
    int next = 0;
    for (int i = 0; i < 256; ++i) {
      bool half = true;
      int signs = 0;
      for (int j = 0; j < 8; ++j) {
        half = half && std::fabs(e[i * 8 + j]) == 0.5f;
        if (e[i * 8 + j] < 0 && j < 7) signs |= 1 << j;
      }
      const int k = half ? 128 + signs : next++;
      if (k >= 256 || used[k]) fail(QS_ERR_INTERNAL, "the E81B table does not split as §4.3 says");
      used[k] = true;
      o.to_kernel[i] = static_cast<uint8_t>(k);
      o.to_original[k] = static_cast<uint8_t>(i);
    }
    if (next != 128) fail(QS_ERR_INTERNAL, "the E81B table does not split as §4.3 says");
    return o;
  }();
  return order;
}

struct IntTables {
  const int8_t* e8p;         // 65536 x 8: 4 * codeword (e8p_times4_table)
  std::vector<int8_t> e81b;  // 256 x 8: 2 * entry, by kernel index (e81b_order)
  // The nibble form of §3.3/§7.3 for the vector kernel: packed[k] holds nu = 2 B_kj + 8 in nibble
  // p = slot of coordinate j (1 KiB, stays in L1).
  alignas(32) int32_t packed[256];
};

const IntTables& int_tables() {
  static const IntTables tables = [] {
    IntTables t;
    t.e8p = e8p_times4_table();
    const E8pTables& e8p = e8p_tables();
    for (int k = 0; k < 256; ++k) t.packed[k] = static_cast<int32_t>(e8p.packed[k]);
    t.e81b.resize(256 * 8);
    const float* e = e81b_table();
    const E81bOrder& order = e81b_order();
    for (int k = 0; k < 256; ++k)
      for (int j = 0; j < 8; ++j)
        t.e81b[k * 8 + j] = static_cast<int8_t>(std::lrint(2.0f * e[order.to_original[k] * 8 + j]));
    return t;
  }();
  return tables;
}

// The activation is rounded to integers with |uq| <= levels: 127 (8-bit, the default: one vpdpbusd
// per byte vector on AVX-512) or 16383 (16-bit: split in two int8 halves there, half the speed).
int32_t activation_levels(int32_t bits) { return bits == 16 ? 16383 : 127; }

int32_t initial_activation_bits() {
  if (const char* env = std::getenv("QUIPSHARP_ACTIVATION_BITS")) {
    if (std::strcmp(env, "16") == 0) return 16;
  }
  return 8;
}

std::atomic<int32_t>& activation_bits_setting() {
  static std::atomic<int32_t> bits{initial_activation_bits()};
  return bits;
}

// One activation: round(u * q) clamped to [-levels, levels] (round to nearest even, as cvtpd2dq).
inline int16_t round_activation(float u, double q, int32_t levels) {
  const long v = std::lrint(static_cast<double>(u) * q);
  return static_cast<int16_t>(std::max<long>(-levels, std::min<long>(levels, v)));
}

// uq = round(u * levels / max|u|); returns the factor that maps integer sums back (max|u| / levels).
double quantize_activation(const float* u, int64_t n, int32_t levels, std::vector<int16_t>& uq) {
  float max_abs = 0.0f;
  for (int64_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(u[i]));
  uq.assign(static_cast<size_t>(n), 0);
  if (max_abs == 0.0f) return 0.0;
  // In double: levels / max|u| overflows float for max|u| below ~4.8e-35.
  const double q = levels / static_cast<double>(max_abs);
  for (int64_t i = 0; i < n; ++i) uq[i] = round_activation(u[i], q, levels);
  return static_cast<double>(max_abs) / levels;
}

// The integer product of one code's table row with its 8 activations (the scalar reference, and the
// vector kernels' tails).
inline int32_t code_dot(const int8_t* table, uint32_t code, const int16_t* x) {
  const int8_t* w = table + static_cast<int64_t>(code) * 8;
  int32_t d = 0;
  for (int j = 0; j < 8; ++j) d += static_cast<int32_t>(w[j]) * x[j];
  return d;
}

template <typename Index>
void rows_scalar(const int8_t* table, const Index* idx, int64_t r0, int64_t r1, int64_t blocks,
                 const int16_t* uq, int64_t* sums) {
  for (int64_t r = r0; r < r1; ++r) {
    const Index* c = idx + r * blocks;
    int64_t s = 0;
    for (int64_t k = 0; k < blocks; ++k) s += code_dot(table, c[k], uq + k * 8);
    sums[r] = s;
  }
}

#ifdef QS_X86
bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                          __builtin_cpu_supports("f16c");
  return has;
}

// quantize_activation in AVX2: the same maximum, the same double products and the same rounding
// (cvtpd2dq and lrint both round to nearest even under the default MXCSR), so the same integers.
__attribute__((target("avx2"))) double quantize_activation_avx2(const float* u, int64_t n,
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

// Codes are prefetched 2 KiB ahead in each stream: it outruns DRAM latency (AVX-512: measured best of 0.5-4 KiB).
constexpr int64_t kPrefetchBytes = 2048;

// Which stages one pass of a vector kernel reads.
enum class Stages { kE8p, kE81b, kE8pE8p, kE8pE81b };
constexpr bool has_second(Stages s) { return s == Stages::kE8pE8p || s == Stages::kE8pE81b; }
constexpr bool first_is_e81b(Stages s) { return s == Stages::kE81b; }
constexpr bool second_is_e81b(Stages s) { return s == Stages::kE8pE81b; }

// A row's integer sum of (table value) * x from its nibble sum: 4 * codeword = 2 nu' - 15 (E8P12),
// 2 * entry = nibble - 4 (E81B); x_total sums the activations the nibbles met.
constexpr int64_t stage_sum(bool e81b, int64_t nibble_sum, int64_t x_total) {
  return e81b ? nibble_sum - 4 * x_total : 2 * nibble_sum - 15 * x_total;
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

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi") &&
                          __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("gfni") &&
                          cpu_has_avx2();
  return has;
}

// GCC 12 reports its own AVX-512 intrinsic headers' _mm512_undefined_* as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#define QS_AVX512 "avx512f,avx512bw,avx512vbmi,avx512vnni,gfni,avx2,fma,f16c"

// The AVX-512 codebook kernels work on 64 codes (512 weights) per step, without gathers, and give
// the same integers as the scalar kernel:
// - E8P12 (§3.3/§3.4 in nibble form): the code bytes are split with one two-source byte permute
//   each; byte b of packed[k] (slots 2b and 2b + 1 in its low and high nibble) comes from a 256-entry
//   byte table in four zmm registers (two vpermi2b on the low 7 bits, a blend on bit 7). The flips of
//   both slots and the -1/4 shift form one byte that is a GF(2)-linear function of the sign byte r
//   (e_p = r_p for p >= 1, e_0 = r_1 ^ ... ^ r_7, P = r_0 ^ ... ^ r_7): one gf2p8affineqb per byte
//   position gives it (0x0E / 0xE0 for the slot flips, 0x11 for the shift), and nu' = nu ^ flip
//   (one vpternlogd per nibble also masks it out). 4 * codeword = 2 nu' - 15 per nibble.
// - E81B (§4.3): the same nibble form without flips: nibble = 2 * entry + 4 (0..8), by slot; kernel
//   indices 0-127 (e81b_order) from a 128-entry byte table (one vpermi2b), 128-255 (the half-integer
//   points, signs in the index bits) by one gf2p8affineqb, a blend on bit 7.
// vpdpbusd (unsigned nibble x signed byte, 4 products per lane) sums nu' * x exactly: 8-bit
// activations directly, 16-bit ones split as x = 256 xh + xl with xh, xl int8 (xl in [-128, 127]).
struct NibbleTables512 {
  alignas(64) uint8_t e8p[4][256];   // byte b of packed[k]
  alignas(64) uint8_t e81b[4][128];  // byte b: 2 * entry + 4 at slot 2b (low), 2b + 1 (high)
  uint64_t e81b_half[4];             // kernel indices 128-255: the same bytes by gf2p8affineqb
  uint64_t flip[4];                  // gf2p8affineqb matrix of byte position b
};

// The 8x8 bit matrix of gf2p8affineqb: output bit i = parity(byte (7 - i) of the matrix & input).
constexpr uint64_t affine_matrix(const uint8_t (&row)[8]) {
  uint64_t a = 0;
  for (int i = 0; i < 8; ++i) a |= static_cast<uint64_t>(row[i]) << (8 * (7 - i));
  return a;
}

const NibbleTables512& nibble_tables512() {
  static const NibbleTables512 t = [] {
    NibbleTables512 n{};
    const IntTables& it = int_tables();
    for (int k = 0; k < 256; ++k)
      for (int b = 0; b < 4; ++b) {
        n.e8p[b][k] = static_cast<uint8_t>(static_cast<uint32_t>(it.packed[k]) >> (8 * b));
        if (k >= 128) continue;
        const int lo = it.e81b[k * 8 + kE8pSlotCoord[2 * b]] + 4;
        const int hi = it.e81b[k * 8 + kE8pSlotCoord[2 * b + 1]] + 4;
        n.e81b[b][k] = static_cast<uint8_t>(lo | hi << 4);
      }
    // Half-integer points: nibble 2 * (+-1/2) + 4 = 5 ^ (6 s_j), so byte b = 0x55 ^ (bits 1-2 = s of
    // slot 2b) ^ (bits 5-6 = s of slot 2b + 1), s_j = bit j of the index for j < 7, s_7 = parity of
    // bits 0-6. The affine constant 0x55 is added in e81b_nibbles.
    for (int b = 0; b < 4; ++b) {
      const auto sign = [](int coord) { return static_cast<uint8_t>(coord < 7 ? 1u << coord : 0x7Fu); };
      const uint8_t lo = sign(kE8pSlotCoord[2 * b]), hi = sign(kE8pSlotCoord[2 * b + 1]);
      const uint8_t rows[8] = {0, lo, lo, 0, 0, hi, hi, 0};
      n.e81b_half[b] = affine_matrix(rows);
    }
    for (int b = 0; b < 4; ++b) {
      const uint8_t parity = 0xFF;
      const uint8_t slot_lo = b == 0 ? 0xFE : static_cast<uint8_t>(1u << (2 * b));
      const uint8_t slot_hi = static_cast<uint8_t>(1u << (2 * b + 1));
      const uint8_t rows[8] = {parity, slot_lo, slot_lo, slot_lo, parity, slot_hi, slot_hi, slot_hi};
      n.flip[b] = affine_matrix(rows);
    }
    return n;
  }();
  return t;
}

__attribute__((target(QS_AVX512))) inline int64_t hsum512_epi32(__m512i v) {
  const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
  const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
  return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

// Mask of the first n (clamped to 0..32) of 32 lanes.
inline __mmask32 first_lanes32(int64_t n) {
  return n >= 32 ? ~__mmask32(0) : n <= 0 ? __mmask32(0) : (__mmask32(1) << n) - 1;
}

// Four int32 accumulators of one stage: low / high activation part (16-bit activations) x low /
// high nibble. The high nibble (slot 2b + 1) is multiplied in place, as 16 * nibble, so it needs no shift: its
// sums are exact multiples of 16 and are divided at the end.
struct Acc512 {
  __m512i l_lo, l_hi, h_lo, h_hi;  // activation part (low / high) x nibble (low / high, times 16)
};

__attribute__((target(QS_AVX512))) inline void acc_zero(Acc512& a) {
  a.l_lo = a.l_hi = a.h_lo = a.h_hi = _mm512_setzero_si512();
}

// 256 * sum(high part) + sum(low part), the high nibbles' sums divided by their factor 16.
__attribute__((target(QS_AVX512))) inline int64_t acc_total(const Acc512& a) {
  return 256 * (hsum512_epi32(a.h_lo) + hsum512_epi32(a.h_hi) / 16) + hsum512_epi32(a.l_lo) +
         hsum512_epi32(a.l_hi) / 16;
}

// The four activation vectors of byte position b in group xg: high and low parts of slots 2b, 2b + 1.
struct SlotPair {
  __m512i h0, h1, l0, l1;
};

template <int b, bool kSplit>
__attribute__((target(QS_AVX512), always_inline)) inline SlotPair load_slots(const int8_t* xg) {
  const __m512i* xv = reinterpret_cast<const __m512i*>(xg + 64 * (2 * b));
  SlotPair x;
  x.l0 = _mm512_loadu_si512(xv + 8);
  x.l1 = _mm512_loadu_si512(xv + 9);
  if (kSplit) {
    x.h0 = _mm512_loadu_si512(xv);
    x.h1 = _mm512_loadu_si512(xv + 1);
  } else {
    x.h0 = x.h1 = _mm512_setzero_si512();
  }
  return x;
}

// Byte position b: n0 = the low nibbles (slot 2b) and n1x16 = the high nibbles in place (slot 2b + 1,
// 16 * nibble, <= 240) against their activations (8-bit activations: the low parts only).
template <bool kSplit>
__attribute__((target(QS_AVX512), always_inline)) inline void acc_nibbles(Acc512& a, __m512i n0,
                                                                          __m512i n1x16,
                                                                          const SlotPair& x) {
  if (kSplit) {
    a.h_lo = _mm512_dpbusd_epi32(a.h_lo, n0, x.h0);
    a.h_hi = _mm512_dpbusd_epi32(a.h_hi, n1x16, x.h1);
  }
  a.l_lo = _mm512_dpbusd_epi32(a.l_lo, n0, x.l0);
  a.l_hi = _mm512_dpbusd_epi32(a.l_hi, n1x16, x.l1);
}

// Byte b of a 256-entry byte table (four 64-byte vectors) for the 64 indices in k.
__attribute__((target(QS_AVX512), always_inline)) inline __m512i lookup256(const uint8_t* table,
                                                                           __m512i k,
                                                                           __mmask64 upper) {
  const __m512i* t = reinterpret_cast<const __m512i*>(table);
  const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(t), k, _mm512_load_si512(t + 1));
  const __m512i hi = _mm512_permutex2var_epi8(_mm512_load_si512(t + 2), k, _mm512_load_si512(t + 3));
  return _mm512_mask_blend_epi8(upper, lo, hi);
}

// 64 codes of one stage (the first `left` of them when kPartial; the rest read as 0 and meet zero
// activations): table indices k (E8P12: the S-row, E81B: the index), the E8P12 sign bytes r.
struct GroupCodes {
  __m512i k, r;
  __mmask64 upper;  // bit 7 of k
};

template <bool kPartial>
__attribute__((target(QS_AVX512), always_inline)) inline GroupCodes load_e8p(const uint16_t* c,
                                                                             int64_t left) {
  __m512i c0, c1;
  if (kPartial) {
    c0 = _mm512_maskz_loadu_epi16(first_lanes32(left), c);
    c1 = _mm512_maskz_loadu_epi16(first_lanes32(left - 32), c + 32);
  } else {
    _mm_prefetch(reinterpret_cast<const char*>(c) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c) + kPrefetchBytes + 64, _MM_HINT_T0);
    c0 = _mm512_loadu_si512(c);
    c1 = _mm512_loadu_si512(c + 32);
  }
  const __m512i odd = _mm512_set_epi64(0x7F7D7B7977757371, 0x6F6D6B6967656361, 0x5F5D5B5957555351,
                                       0x4F4D4B4947454341, 0x3F3D3B3937353331, 0x2F2D2B2927252321,
                                       0x1F1D1B1917151311, 0x0F0D0B0907050301);
  const __m512i even = _mm512_sub_epi8(odd, _mm512_set1_epi8(1));
  GroupCodes g;
  g.k = _mm512_permutex2var_epi8(c0, odd, c1);   // S-row indices
  g.r = _mm512_permutex2var_epi8(c0, even, c1);  // sign bytes
  g.upper = _mm512_movepi8_mask(g.k);
  return g;
}

template <bool kPartial>
__attribute__((target(QS_AVX512), always_inline)) inline GroupCodes load_e81b(const uint8_t* c,
                                                                              int64_t left) {
  GroupCodes g;
  if (kPartial) {
    g.k = _mm512_maskz_loadu_epi8(left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1, c);
  } else {
    _mm_prefetch(reinterpret_cast<const char*>(c) + kPrefetchBytes, _MM_HINT_T0);
    g.k = _mm512_loadu_si512(c);
  }
  g.r = _mm512_setzero_si512();
  g.upper = _mm512_movepi8_mask(g.k);
  return g;
}

// The nibbles of byte position b, split: E8P12 nu ^ flip (flips and shift from the sign byte; one
// vpternlogd per half computes (packed ^ flip) & mask), E81B 2 * entry + 4.
struct Nibbles {
  __m512i lo, hi_x16;
};

template <int b>
__attribute__((target(QS_AVX512), always_inline)) inline Nibbles e8p_nibbles(
    const NibbleTables512& t, const GroupCodes& g) {
  const __m512i flip =
      _mm512_gf2p8affine_epi64_epi8(g.r, _mm512_set1_epi64(static_cast<long long>(t.flip[b])), 0);
  const __m512i packed = lookup256(t.e8p[b], g.k, g.upper);
  constexpr int kXorAnd = 0x28;  // (A ^ B) & C for A = 0xF0, B = 0xCC, C = 0xAA
  return {_mm512_ternarylogic_epi32(packed, flip, _mm512_set1_epi8(0x0F), kXorAnd),
          _mm512_ternarylogic_epi32(packed, flip, _mm512_set1_epi8(static_cast<char>(0xF0)), kXorAnd)};
}

template <int b>
__attribute__((target(QS_AVX512), always_inline)) inline Nibbles e81b_nibbles(
    const NibbleTables512& t, const GroupCodes& g) {
  const __m512i* lower = reinterpret_cast<const __m512i*>(t.e81b[b]);
  const __m512i w = _mm512_mask_blend_epi8(
      g.upper, _mm512_permutex2var_epi8(_mm512_load_si512(lower), g.k, _mm512_load_si512(lower + 1)),
      _mm512_gf2p8affine_epi64_epi8(g.k, _mm512_set1_epi64(static_cast<long long>(t.e81b_half[b])), 0x55));
  return {_mm512_and_si512(w, _mm512_set1_epi8(0x0F)),
          _mm512_and_si512(w, _mm512_set1_epi8(static_cast<char>(0xF0)))};
}

template <Stages kStages, bool kSplit, int b>
__attribute__((target(QS_AVX512), always_inline)) inline void group_byte(
    const NibbleTables512& t, const GroupCodes& g1, const GroupCodes& g2, const int8_t* xg,
    Acc512& a1, Acc512& a2) {
  const SlotPair x = load_slots<b, kSplit>(xg);  // shared by both stages
  const Nibbles n1 = first_is_e81b(kStages) ? e81b_nibbles<b>(t, g1) : e8p_nibbles<b>(t, g1);
  acc_nibbles<kSplit>(a1, n1.lo, n1.hi_x16, x);
  if constexpr (has_second(kStages)) {
    const Nibbles n2 = second_is_e81b(kStages) ? e81b_nibbles<b>(t, g2) : e8p_nibbles<b>(t, g2);
    acc_nibbles<kSplit>(a2, n2.lo, n2.hi_x16, x);
  }
}

// One group of 64 codes of every stage of row r.
template <Stages kStages, bool kSplit, bool kPartial>
__attribute__((target(QS_AVX512), always_inline)) inline void group_step(
    const NibbleTables512& t, const void* codes1, const void* codes2, int64_t r, int64_t g,
    int64_t blocks, const int8_t* xs, Acc512& a1, Acc512& a2) {
  const int64_t left = blocks - 64 * g;
  const int8_t* xg = xs + g * 1024;
  const int64_t at = r * blocks + 64 * g;
  const GroupCodes g1 = kStages == Stages::kE81b
                            ? load_e81b<kPartial>(static_cast<const uint8_t*>(codes1) + at, left)
                            : load_e8p<kPartial>(static_cast<const uint16_t*>(codes1) + at, left);
  GroupCodes g2{};
  if constexpr (kStages == Stages::kE8pE8p)
    g2 = load_e8p<kPartial>(static_cast<const uint16_t*>(codes2) + at, left);
  if constexpr (kStages == Stages::kE8pE81b)
    g2 = load_e81b<kPartial>(static_cast<const uint8_t*>(codes2) + at, left);
  group_byte<kStages, kSplit, 0>(t, g1, g2, xg, a1, a2);
  group_byte<kStages, kSplit, 1>(t, g1, g2, xg, a1, a2);
  group_byte<kStages, kSplit, 2>(t, g1, g2, xg, a1, a2);
  group_byte<kStages, kSplit, 3>(t, g1, g2, xg, a1, a2);
}

// xs: per group of 64 codes (the last one zero-padded), 8 vectors v (slot v) of 64 int8 high parts,
// then 8 of low parts: xs[(g * 16 + v) * 64 + i] = xh of code 64g + i at coordinate kE8pSlotCoord[v];
// with 8-bit activations (kSplit false) the low parts hold them and the high parts are not read.
// x_total sums all activations. Writes each row's exact integer sum of (table value) * x per stage:
// 4 * codeword for E8P12 (first = 2 * nibble sum - 15 * x_total), 2 * entry for E81B.
template <Stages kStages, bool kSplit>
__attribute__((target(QS_AVX512))) void rows_avx512(const void* codes1, const void* codes2,
                                                    int64_t r0, int64_t r1, int64_t blocks,
                                                    const int8_t* xs, int64_t x_total,
                                                    int64_t* sums1, int64_t* sums2) {
  constexpr bool kTwo = has_second(kStages);
  const NibbleTables512& t = nibble_tables512();
  const int64_t full = blocks / 64;
  // Per lane and group each accumulator adds at most 4 (byte positions) * 4 * 240 * 128 = 491520:
  // flush to int64 every 4096 groups (< 2^31).
  constexpr int64_t kFlush = 4096;
  for (int64_t r = r0; r < r1; ++r) {
    int64_t s1 = 0, s2 = 0;
    Acc512 a1, a2;
    for (int64_t g0 = 0; g0 < full; g0 += kFlush) {
      acc_zero(a1);
      if (kTwo) acc_zero(a2);
      const int64_t g1 = std::min(full, g0 + kFlush);
      for (int64_t g = g0; g < g1; ++g) group_step<kStages, kSplit, false>(t, codes1, codes2, r, g, blocks, xs, a1, a2);
      s1 += acc_total(a1);
      if (kTwo) s2 += acc_total(a2);
    }
    if (blocks % 64 != 0) {
      acc_zero(a1);
      if (kTwo) acc_zero(a2);
      group_step<kStages, kSplit, true>(t, codes1, codes2, r, full, blocks, xs, a1, a2);
      s1 += acc_total(a1);
      if (kTwo) s2 += acc_total(a2);
    }
    sums1[r] = stage_sum(first_is_e81b(kStages), s1, x_total);
    if (kTwo) sums2[r] = stage_sum(second_is_e81b(kStages), s2, x_total);
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

__attribute__((target("avx2,fma,f16c"))) void dense_rows_avx2_for(const float* w, int64_t r0, int64_t r1,
                                                       int64_t n, const float* x, float* y) {
  dense_rows_avx2(r0, r1, n, x, y, F32Rows{w, n});
}

__attribute__((target("avx2,fma,f16c"))) void dense_rows_avx2_for(const uint16_t* w, int64_t r0,
                                                            int64_t r1, int64_t n, const float* x,
                                                            float* y) {
  dense_rows_avx2(r0, r1, n, x, y, F16Rows{w, n});
}
#else
bool cpu_has_avx2() { return false; }
bool cpu_has_avx512() { return false; }
#endif


#ifdef QS_X86
// The 8-bit xs layout of rows_avx512 for one group of 64 blocks (uq: 512 values, |uq| <= 127): each
// block's 8 coordinates narrowed to bytes, transposed within 8 blocks with one byte permute (qword j
// = coordinate j of the 8 blocks), then the qwords copied to their slot rows.
__attribute__((target(QS_AVX512))) void layout_group8_avx512(const int16_t* uq, int64_t count,
                                                            int8_t* low) {
  alignas(64) uint8_t idx[64];
  for (int j = 0; j < 8; ++j)
    for (int b = 0; b < 8; ++b) idx[j * 8 + b] = static_cast<uint8_t>(b * 8 + j);
  const __m512i transpose = _mm512_load_si512(idx);
  alignas(64) uint64_t t[8][8];  // [8 blocks][coordinate]
  for (int q = 0; q < 8; ++q) {
    const int64_t left = count - 64 * q;  // int16 values left in this group from block 8q
    const __m256i b0 = _mm512_cvtepi16_epi8(_mm512_maskz_loadu_epi16(first_lanes32(left), uq + 64 * q));
    const __m256i b1 =
        _mm512_cvtepi16_epi8(_mm512_maskz_loadu_epi16(first_lanes32(left - 32), uq + 64 * q + 32));
    const __m512i bytes = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1);
    _mm512_store_si512(t[q], _mm512_permutexvar_epi8(transpose, bytes));
  }
  for (int v = 0; v < 8; ++v) {
    uint64_t* row = reinterpret_cast<uint64_t*>(low + v * 64);
    for (int q = 0; q < 8; ++q) std::memcpy(row + q, &t[q][kE8pSlotCoord[v]], 8);
  }
}
#endif

// A 16-bit activation as x = 256 xh + xl with int8 parts, xl in [-128, 127].
inline void split_activation(int32_t x, int8_t* xh, int8_t* xl) {
  const int32_t h = (x + 128) >> 8;
  *xh = static_cast<int8_t>(h);
  *xl = static_cast<int8_t>(x - 256 * h);
}

// The activation of one mat-vec, quantized once and laid out for the kernel that reads it.
struct Activation {
  std::vector<int16_t> uq;  // round(u / step), |uq| <= levels (127 or 16383)
  double step = 0;          // max|u| / levels (0 for u = 0)
  bool split = false;       // 16-bit: xs holds int8 high and low parts
  std::vector<int8_t> xs;   // AVX-512: int8 halves by slot (see rows_avx512)
  std::vector<int8_t> xb;   // AVX2: int8 parts by slot pair per group of 8 blocks (see rows_avx2)
  int64_t x_total = 0;      // sum of uq
  int64_t xb_total = 0;     // sum of the activations in xb (the full groups of 8 blocks)
};

Activation prepare_activation(const float* u, int64_t n, int32_t kernel, int32_t bits) {
  Activation a;
  const int32_t levels = activation_levels(bits);
#ifdef QS_X86
  if (kernel != QS_KERNEL_SCALAR) {
    a.step = quantize_activation_avx2(u, n, levels, a.uq);
  } else {
    a.step = quantize_activation(u, n, levels, a.uq);
  }
#else
  a.step = quantize_activation(u, n, levels, a.uq);
#endif
  a.split = bits == 16;
  for (int16_t x : a.uq) a.x_total += x;
  const int64_t blocks = n / 8;
  if (kernel == QS_KERNEL_AVX512) {
    // Block i of group g: slot v's activation at xs[(g * 16 + v) * 64 + i % 64] (high part) and
    // [(g * 16 + 8 + v) * 64 + i % 64] (low part); x = 256 xh + xl, xl in [-128, 127] (8-bit: xh = 0).
    a.xs.assign(static_cast<size_t>((blocks + 63) / 64 * 1024), 0);
    if (!a.split) {
      for (int64_t g = 0; g < (blocks + 63) / 64; ++g)
        layout_group8_avx512(&a.uq[g * 512], std::min<int64_t>(512, n - g * 512), &a.xs[g * 1024 + 512]);
      return a;
    }
    for (int64_t i = 0; i < blocks; ++i) {
      int8_t* high = &a.xs[(i / 64) * 1024 + i % 64];
      int8_t* low = high + 8 * 64;
      const int16_t* x = &a.uq[i * 8];
      for (int v = 0; v < 8; ++v) split_activation(x[kE8pSlotCoord[v]], high + v * 64, low + v * 64);
    }
  } else if (kernel == QS_KERNEL_AVX2) {
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
  return a;
}

// Rows [lo, hi) of one stage on the scalar kernel: exact integer sums of (table value) * uq.
template <typename Index>
void stage_rows_scalar(const Index* idx, int64_t lo, int64_t hi, int64_t blocks, const Activation& a,
                       int64_t* sums) {
  const IntTables& t = int_tables();
  rows_scalar(sizeof(Index) == 2 ? t.e8p : t.e81b.data(), idx, lo, hi, blocks, a.uq.data(), sums);
}

#ifdef QS_X86
// Rows [lo, hi) of every stage in one pass of the AVX2 or AVX-512 kernel.
template <bool kSplit>
void vector_stage_rows(int32_t kernel, const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* s1, int64_t* s2) {
  const auto run = [&](auto stages, const void* c1, const void* c2) {
    constexpr Stages kStages = decltype(stages)::value;
    if (kernel == QS_KERNEL_AVX512) {
      rows_avx512<kStages, kSplit>(c1, c2, lo, hi, blocks, a.xs.data(), a.x_total, s1, s2);
    } else {
      rows_avx2<kStages, kSplit>(c1, c2, lo, hi, blocks, a.xb.data(), a.xb_total, a.uq.data(), s1, s2);
    }
  };
  using E8p = std::integral_constant<Stages, Stages::kE8p>;
  using E81b = std::integral_constant<Stages, Stages::kE81b>;
  using E8pE8p = std::integral_constant<Stages, Stages::kE8pE8p>;
  using E8pE81b = std::integral_constant<Stages, Stages::kE8pE81b>;
  if (c.e8p == nullptr) {
    run(E81b{}, c.e81b, nullptr);
  } else if (c.e8p2 != nullptr) {
    run(E8pE8p{}, c.e8p, c.e8p2);
  } else if (c.e81b != nullptr) {
    run(E8pE81b{}, c.e8p, c.e81b);
  } else {
    run(E8p{}, c.e8p, nullptr);
  }
}
#endif

}  // namespace

uint8_t e81b_kernel_index(uint8_t index) { return e81b_order().to_kernel[index]; }

int32_t resolve_kernel(int32_t kernel) {
  require(kernel == QS_KERNEL_AUTO || kernel == QS_KERNEL_SCALAR || kernel == QS_KERNEL_AVX2 ||
              kernel == QS_KERNEL_AVX512,
          "kernel = ", kernel, " must be 0 (auto), 1 (scalar), 2 (avx2) or 3 (avx512)");
  if (kernel == QS_KERNEL_AVX2 && !cpu_has_avx2())
    fail(QS_ERR_INVALID_ARGUMENT, "kernel = 2 (avx2) is not available on this CPU");
  if (kernel == QS_KERNEL_AVX512 && !cpu_has_avx512())
    fail(QS_ERR_INVALID_ARGUMENT, "kernel = 3 (avx512: F, BW, VBMI, VNNI and GFNI) is not available on this CPU");
  if (kernel == QS_KERNEL_AUTO) {
    return widest_kernel([](int32_t k) { return k == QS_KERNEL_AVX512 ? cpu_has_avx512() : cpu_has_avx2(); });
  }
  return kernel;
}

// z = W1 u, plus second_weight * W2 u for a second stage, through the integer kernels; on AVX-512 the
// stages are read in one pass. The same floats as one qs_e8p_matvec / qs_e81b_matvec per stage.
void stages_matvec(const StageCodes& c, int64_t m, int64_t n, const float* u, float* z,
                   int32_t kernel) {
  const int32_t activation_bits = activation_bits_setting().load(std::memory_order_relaxed);
  const bool e8p_first = c.e8p != nullptr;
  const bool two = e8p_first && (c.e8p2 != nullptr || c.e81b != nullptr);
  const Activation a = prepare_activation(u, n, kernel, activation_bits);
  const int64_t blocks = n / 8;
  std::vector<int64_t> s1(static_cast<size_t>(m)), s2(two ? static_cast<size_t>(m) : 0);
  // At least ~128k weights per chunk: waking the pool costs more than a small matrix.
  parallel_for(0, m, std::max<int64_t>(64, (int64_t(1) << 17) / n), [&](int64_t lo, int64_t hi) {
#ifdef QS_X86
    if (kernel == QS_KERNEL_AVX512 || kernel == QS_KERNEL_AVX2) {
      if (a.split) {
        vector_stage_rows<true>(kernel, c, lo, hi, blocks, a, s1.data(), s2.data());
      } else {
        vector_stage_rows<false>(kernel, c, lo, hi, blocks, a, s1.data(), s2.data());
      }
      return;
    }
#endif
    if (!e8p_first) {
      stage_rows_scalar(c.e81b, lo, hi, blocks, a, s1.data());
      return;
    }
    stage_rows_scalar(c.e8p, lo, hi, blocks, a, s1.data());
    if (c.e8p2 != nullptr) stage_rows_scalar(c.e8p2, lo, hi, blocks, a, s2.data());
    if (c.e81b != nullptr) stage_rows_scalar(c.e81b, lo, hi, blocks, a, s2.data());
  });
  // Table values are 4 * codeword (E8P12) and 2 * entry (E81B).
  const double scale1 = a.step / (e8p_first ? 4.0 : 2.0);
  for (int64_t r = 0; r < m; ++r) z[r] = static_cast<float>(static_cast<double>(s1[r]) * scale1);
  if (two) {
    const double scale2 = a.step / (c.e8p2 != nullptr ? 4.0 : 2.0);
    for (int64_t r = 0; r < m; ++r)
      z[r] += static_cast<float>(static_cast<double>(s2[r]) * scale2) * c.second_weight;
  }
}

namespace {

void validate_matvec(const void* w, int64_t m, int64_t n, const float* u, const float* z,
                     bool groups_of_8) {
  require_not_null(w, groups_of_8 ? "codes" : "w");
  require_not_null(u, "x");
  require_not_null(z, "y");
  require(m > 0, "rows = ", m, " must be positive");
  require(n > 0, "cols = ", n, " must be positive");
  if (groups_of_8) require(n % 8 == 0, "cols = ", n, " must be a multiple of 8");
  require_finite(u, n, "x");
}

inline float weight_value(float w) { return w; }
inline float weight_value(uint16_t w) { return half_to_float(w); }

// y = W x for fp32 (float) or fp16 (uint16_t) weights; double accumulation in the scalar reference.
template <typename Weight>
void dense_matvec(const Weight* w, int64_t m, int64_t n, const float* x, float* y, int32_t kernel) {
  validate_matvec(w, m, n, x, y, false);
  const int32_t k = resolve_kernel(kernel);
  parallel_for(0, m, std::max<int64_t>(16, (int64_t(1) << 16) / n), [&](int64_t lo, int64_t hi) {
#ifdef QS_X86
    if (k == QS_KERNEL_AVX2 || k == QS_KERNEL_AVX512) {
      dense_rows_avx2_for(w, lo, hi, n, x, y);
      return;
    }
#endif
    for (int64_t r = lo; r < hi; ++r) {
      double s = 0;
      for (int64_t c = 0; c < n; ++c) s += static_cast<double>(weight_value(w[r * n + c])) * x[c];
      y[r] = static_cast<float>(s);
    }
  });
}

}  // namespace

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);  // inf / nan
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  // subnormal: normalize
    exp = 113;
    while ((mant & 0x400u) == 0) {
      mant <<= 1;
      --exp;
    }
    bits = sign | (exp << 23) | ((mant & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  // Round to nearest even, with overflow to infinity and gradual underflow.
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs >= 0x7F800000u) return sign | (abs > 0x7F800000u ? 0x7E00u : 0x7C00u);
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds above 65504
  if (abs < 0x38800000u) {                        // below the smallest normal half: subnormal
    if (abs < 0x33000000u) return sign;           // rounds to zero
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t h = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) ++h;
    return sign | static_cast<uint16_t>(h);
  }
  uint32_t h = ((abs >> 13) - (112u << 10));
  const uint32_t rem = abs & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return sign | static_cast<uint16_t>(h);
}

}  // namespace qs

extern "C" int32_t qs_cpu_kernel_available(int32_t kernel) {
  if (kernel == QS_KERNEL_AUTO || kernel == QS_KERNEL_SCALAR) return 1;
  if (kernel == QS_KERNEL_AVX2) return qs::cpu_has_avx2() ? 1 : 0;
  if (kernel == QS_KERNEL_AVX512) return qs::cpu_has_avx512() ? 1 : 0;
  return 0;
}

extern "C" int32_t qs_cpu_kernel_selected(void) { return qs::resolve_kernel(QS_KERNEL_AUTO); }

extern "C" int32_t qs_set_activation_bits(int32_t bits) {
  return qs::guard([&] {
    qs::require(bits == 8 || bits == 16, "activation bits = ", bits, " must be 8 or 16");
    qs::activation_bits_setting().store(bits, std::memory_order_relaxed);
  });
}

extern "C" int32_t qs_get_activation_bits(void) {
  return qs::activation_bits_setting().load(std::memory_order_relaxed);
}

extern "C" int32_t qs_e8p_matvec(const uint16_t* codes, int64_t m, int64_t n, const float* u,
                                 float* z, int32_t kernel) {
  return qs::guard([&] {
    qs::validate_matvec(codes, m, n, u, z, true);
    const int32_t k = qs::resolve_kernel(kernel);
    qs::stages_matvec({codes, nullptr, nullptr, 0.0f}, m, n, u, z, k);
  });
}

extern "C" int32_t qs_e81b_matvec(const uint8_t* codes, int64_t m, int64_t n, const float* u,
                                  float* z, int32_t kernel) {
  return qs::guard([&] {
    qs::validate_matvec(codes, m, n, u, z, true);
    const int32_t k = qs::resolve_kernel(kernel);
    std::vector<uint8_t> kernel_codes(static_cast<size_t>(m * (n / 8)));
    for (size_t i = 0; i < kernel_codes.size(); ++i) kernel_codes[i] = qs::e81b_kernel_index(codes[i]);
    qs::stages_matvec({nullptr, nullptr, kernel_codes.data(), 0.0f}, m, n, u, z, k);
  });
}

extern "C" int32_t qs_f32_matvec(const float* w, int64_t m, int64_t n, const float* x, float* y,
                                 int32_t kernel) {
  return qs::guard([&] { qs::dense_matvec(w, m, n, x, y, kernel); });
}

extern "C" int32_t qs_f16_matvec(const uint16_t* w, int64_t m, int64_t n, const float* x, float* y,
                                 int32_t kernel) {
  return qs::guard([&] { qs::dense_matvec(w, m, n, x, y, kernel); });
}

extern "C" int32_t qs_f32_to_f16(const float* x, int64_t count, uint16_t* out) {
  return qs::guard([&] {
    qs::require_count(count, "count");
    qs::require_buffer(x, count, "x");
    qs::require_buffer(out, count, "out");
    for (int64_t i = 0; i < count; ++i) out[i] = qs::float_to_half(x[i]);
  });
}
