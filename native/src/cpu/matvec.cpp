// CPU mat-vec kernels for inference (§7.1 step 3): z = W~ u with W~ the decoded codebook matrix, plus
// the fp32 and fp16 baselines the benchmarks compare against.
//
// Codebook kernels work on integers. Every codeword of E8P12 times 4 is an odd integer in [-11, 11]
// (half-integers ± 1/4), every E81B entry times 2 is an integer in [-4, 4], so one table of 8 int8 per
// code holds the codebook exactly (E8P12: 65536 x 8 bytes = 512 KiB, E81B: 2 KiB). The activation u
// is quantized once per call to int16 with |uq| <= 16383 (relative step 2^-14 of max|u|, far below the
// codebook's own error) and each row's sum of products is exact integer arithmetic. The scalar kernel
// is the reference; the AVX2 kernel computes the same integers (sign-extended table rows, vpmaddwd),
// so the two agree bit for bit. int32 lane sums are flushed to int64 every 4096 steps: one step adds
// at most 2 * 11 * 16383 per lane, 4096 steps stay below 2^31.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QS_X86 1
#endif

#include "common/codebook.hpp"
#include "common/e8p12.hpp"
#include "common/parallel.hpp"
#include "common/status.hpp"
#include "cpu/matvec.hpp"

namespace qs {
namespace {

constexpr int32_t kActivationMax = 16383;
constexpr int64_t kFlushSteps = 4096;
// Groups of 8 codes per int32 accumulation in the nibble kernel: a group adds at most
// 4 * 2 * 15 * 16383 per lane, 512 groups stay below 2^31.
constexpr int64_t kNibbleFlush = 512;

struct IntTables {
  std::vector<int8_t> e8p;   // 65536 x 8: 4 * codeword
  std::vector<int8_t> e81b;  // 256 x 8: 2 * entry
  // The nibble form of §3.3/§7.3 for the vector kernel: packed[k] holds nu = 2 B_kj + 8 in nibble
  // p = slot of coordinate j (1 KiB, stays in L1).
  alignas(32) int32_t packed[256];
};

const IntTables& int_tables() {
  static const IntTables tables = [] {
    IntTables t;
    t.e8p.resize(65536 * 8);
    float v[8];
    for (int c = 0; c < 65536; ++c) {
      e8p_decode_one(static_cast<uint16_t>(c), v);
      for (int j = 0; j < 8; ++j) t.e8p[c * 8 + j] = static_cast<int8_t>(std::lrint(4.0f * v[j]));
    }
    const E8pTables& e8p = e8p_tables();
    for (int k = 0; k < 256; ++k) t.packed[k] = static_cast<int32_t>(e8p.packed[k]);
    t.e81b.resize(256 * 8);
    const float* e = e81b_table();
    for (int i = 0; i < 256 * 8; ++i) t.e81b[i] = static_cast<int8_t>(std::lrint(2.0f * e[i]));
    return t;
  }();
  return tables;
}

// uq = round(u * 16383 / max|u|); returns the factor that maps integer sums back (max|u| / 16383).
double quantize_activation(const float* u, int64_t n, std::vector<int16_t>& uq) {
  float max_abs = 0.0f;
  for (int64_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(u[i]));
  uq.assign(static_cast<size_t>(n), 0);
  if (max_abs == 0.0f) return 0.0;
  // In double: 16383 / max|u| overflows float for max|u| below ~4.8e-35.
  const double q = kActivationMax / static_cast<double>(max_abs);
  for (int64_t i = 0; i < n; ++i) {
    const long v = std::lrint(static_cast<double>(u[i]) * q);
    uq[i] = static_cast<int16_t>(std::max<long>(-kActivationMax, std::min<long>(kActivationMax, v)));
  }
  return static_cast<double>(max_abs) / kActivationMax;
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

__attribute__((target("avx2"))) inline int64_t hsum_epi32(__m256i v) {
  // Widen to int64 before adding so that lane sums near 2^31 cannot overflow.
  const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v));
  const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v, 1));
  const __m256i s = _mm256_add_epi64(lo, hi);
  alignas(32) int64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), s);
  return t[0] + t[1] + t[2] + t[3];
}

template <typename Index>
__attribute__((target("avx2"))) inline __m256i load_pair(const int8_t* table, const Index* c,
                                                         int64_t k) {
  int64_t a, b;
  std::memcpy(&a, table + static_cast<int64_t>(c[k]) * 8, 8);
  std::memcpy(&b, table + static_cast<int64_t>(c[k + 1]) * 8, 8);
  return _mm256_cvtepi8_epi16(_mm_set_epi64x(b, a));
}

// Four rows per pass share each activation load; pairs of codes (16 weights) per step.
template <typename Index>
__attribute__((target("avx2"))) void rows_avx2(const int8_t* table, const Index* idx, int64_t r0,
                                               int64_t r1, int64_t blocks, const int16_t* uq,
                                               int64_t* sums) {
  const int64_t pairs = blocks / 2;
  int64_t r = r0;
  for (; r + 4 <= r1; r += 4) {
    const Index* c0 = idx + r * blocks;
    const Index* c1 = c0 + blocks;
    const Index* c2 = c1 + blocks;
    const Index* c3 = c2 + blocks;
    int64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t p0 = 0; p0 < pairs; p0 += kFlushSteps) {
      const int64_t p1 = std::min(pairs, p0 + kFlushSteps);
      __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t p = p0; p < p1; ++p) {
        const int64_t k = 2 * p;
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(uq + k * 8));
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(load_pair(table, c0, k), x));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(load_pair(table, c1, k), x));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(load_pair(table, c2, k), x));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(load_pair(table, c3, k), x));
      }
      s0 += hsum_epi32(a0);
      s1 += hsum_epi32(a1);
      s2 += hsum_epi32(a2);
      s3 += hsum_epi32(a3);
    }
    sums[r] = s0;
    sums[r + 1] = s1;
    sums[r + 2] = s2;
    sums[r + 3] = s3;
  }
  for (; r < r1; ++r) {
    const Index* c = idx + r * blocks;
    int64_t s = 0;
    for (int64_t p0 = 0; p0 < pairs; p0 += kFlushSteps) {
      const int64_t p1 = std::min(pairs, p0 + kFlushSteps);
      __m256i a = _mm256_setzero_si256();
      for (int64_t p = p0; p < p1; ++p) {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(uq + 2 * p * 8));
        a = _mm256_add_epi32(a, _mm256_madd_epi16(load_pair(table, c, 2 * p), x));
      }
      s += hsum_epi32(a);
    }
    sums[r] = s;
  }
  if (blocks % 2 != 0) {  // the last, unpaired code of every row
    const int64_t k = blocks - 1;
    for (int64_t rr = r0; rr < r1; ++rr) sums[rr] += code_dot(table, idx[rr * blocks + k], uq + k * 8);
  }
}

// E8P12 rows, eight codes per step, decoded in registers (§3.4 in the nibble form of §3.3/§7.3):
// gather packed[k]; from the sign byte r build flip = 14 e_p in nibble p (e = r with bit 0 XOR the
// parity: the sign flips) plus 1 in every nibble when the parity is odd (the -1/4 shift); then each
// nibble nu' = nu ^ flip gives 4 * codeword = 2 nu' - 15 (nu' stays odd for +1/4 and becomes
// nu' - 1 for -1/4). The nibbles are split into 16-bit lanes and multiplied with the activations
// permuted to match (xp: per 8 codes, the coordinate pairs (0,1), (2,3), (4,5), (6,7) of the 8
// blocks), so a row's sum is 2 * sum(nu' * x) - 15 * sum(x), the same integer as the scalar kernel.
__attribute__((target("avx2"))) void e8p_rows_nibbles(const IntTables& t, const uint16_t* idx,
                                                      int64_t r0, int64_t r1, int64_t blocks,
                                                      const int16_t* xp, const int16_t* uq,
                                                      int64_t x_total, int64_t* sums) {
  const int64_t groups = blocks / 8;
  const __m256i low_nibble = _mm256_set1_epi32(0x000F000F);
  const __m256i byte_mask = _mm256_set1_epi32(0xFF);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i broadcast_byte0 =
      _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4, 4, 8, 8,
                       8, 8, 12, 12, 12, 12);
  const __m256i pair_bits = _mm256_set1_epi32(0x0C030C03);
  // index -> nibble mask: 1 (bit 0) and 4 -> 0x0E, 2 and 8 -> 0xE0, 3 and 12 -> 0xEE.
  const __m256i spread_lut =
      _mm256_setr_epi8(0, 0x0E, static_cast<char>(0xE0), static_cast<char>(0xEE), 0x0E, 0, 0, 0,
                       static_cast<char>(0xE0), 0, 0, 0, static_cast<char>(0xEE), 0, 0, 0, 0, 0x0E,
                       static_cast<char>(0xE0), static_cast<char>(0xEE), 0x0E, 0, 0, 0,
                       static_cast<char>(0xE0), 0, 0, 0, static_cast<char>(0xEE), 0, 0, 0);
  const __m256i ones_nibbles = _mm256_set1_epi32(0x11111111);
  const __m256i zero = _mm256_setzero_si256();
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* c = idx + r * blocks;
    int64_t s = 0;
    for (int64_t g0 = 0; g0 < groups; g0 += kNibbleFlush) {
      const int64_t g1 = std::min(groups, g0 + kNibbleFlush);
      __m256i acc = _mm256_setzero_si256();
      for (int64_t g = g0; g < g1; ++g) {
        const __m256i code =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(c + 8 * g)));
        const __m256i packed = _mm256_i32gather_epi32(t.packed, _mm256_srli_epi32(code, 8), 4);
        // flip[r] computed in registers: parity of r, e = r ^ parity, bit p of e -> nibble p * 14.
        const __m256i rr = _mm256_and_si256(code, byte_mask);
        __m256i par = _mm256_xor_si256(rr, _mm256_srli_epi32(rr, 4));
        par = _mm256_xor_si256(par, _mm256_srli_epi32(par, 2));
        par = _mm256_and_si256(_mm256_xor_si256(par, _mm256_srli_epi32(par, 1)), one);
        // Spread: byte b of the lane gets bits 2b, 2b+1 of e as nibble masks 0x0E / 0xE0 (a byte
        // LUT: index = the two bits, at positions 0-1 for even b and 2-3 for odd b).
        const __m256i e = _mm256_xor_si256(rr, par);
        const __m256i rep = _mm256_shuffle_epi8(e, broadcast_byte0);
        const __m256i pick = _mm256_and_si256(
            _mm256_blend_epi16(rep, _mm256_srli_epi32(rep, 4), 0xAA), pair_bits);
        const __m256i flip = _mm256_or_si256(_mm256_shuffle_epi8(spread_lut, pick),
                                             _mm256_and_si256(_mm256_sub_epi32(zero, par), ones_nibbles));
        const __m256i nib = _mm256_xor_si256(packed, flip);
        const __m256i* x = reinterpret_cast<const __m256i*>(xp + 64 * g);
        const __m256i a = _mm256_and_si256(nib, low_nibble);
        const __m256i b = _mm256_and_si256(_mm256_srli_epi32(nib, 4), low_nibble);
        const __m256i cc = _mm256_and_si256(_mm256_srli_epi32(nib, 8), low_nibble);
        const __m256i d = _mm256_and_si256(_mm256_srli_epi32(nib, 12), low_nibble);
        const __m256i ab = _mm256_add_epi32(_mm256_madd_epi16(a, _mm256_loadu_si256(x)),
                                            _mm256_madd_epi16(b, _mm256_loadu_si256(x + 1)));
        const __m256i cd = _mm256_add_epi32(_mm256_madd_epi16(cc, _mm256_loadu_si256(x + 2)),
                                            _mm256_madd_epi16(d, _mm256_loadu_si256(x + 3)));
        acc = _mm256_add_epi32(acc, _mm256_add_epi32(ab, cd));
      }
      s += hsum_epi32(acc);
    }
    s = 2 * s - 15 * x_total;
    for (int64_t k = 8 * groups; k < blocks; ++k)  // codes past the last full group of 8
      s += code_dot(t.e8p.data(), c[k], uq + k * 8);
    sums[r] = s;
  }
}

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi") &&
                          __builtin_cpu_supports("avx512vnni") &&
                          __builtin_cpu_supports("avx512bitalg") && cpu_has_avx2();
  return has;
}

// GCC 12 reports its own AVX-512 intrinsic headers' _mm512_undefined_* as maybe-uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#define QS_AVX512 "avx512f,avx512bw,avx512vbmi,avx512vnni,avx512bitalg,avx2,fma,f16c"

// The nibble decode of e8p_rows_nibbles on 64 codes (512 weights) per step, without gathers: the
// code bytes are split with one two-source byte permute each; byte b of packed[k] comes from a
// 256-entry byte table held in four zmm registers (two vpermi2b on the low 7 bits, a blend on bit 7);
// the parity of the sign byte is vpopcntb & 1. For byte position b the low nibble is slot 2b and the
// high nibble slot 2b + 1 (§3.3). The int16 activations are split as x = 256 xh + xl with xl, xh in
// int8 (xl in [-128, 127]), so that vpdpbusd (unsigned nibble x signed byte, 4 per lane) sums
// nu' * x exactly: sum = 256 * sum(nu' xh) + sum(nu' xl). Same integers as the scalar kernel.
struct NibbleTables512 {
  alignas(64) uint8_t byte[4][256];  // byte b of packed[k]
};

const NibbleTables512& nibble_tables512() {
  static const NibbleTables512 t = [] {
    NibbleTables512 n{};
    const IntTables& it = int_tables();
    for (int k = 0; k < 256; ++k)
      for (int b = 0; b < 4; ++b)
        n.byte[b][k] = static_cast<uint8_t>(static_cast<uint32_t>(it.packed[k]) >> (8 * b));
    return n;
  }();
  return t;
}

__attribute__((target(QS_AVX512))) inline int64_t hsum512_epi32(__m512i v) {
  const __m512i lo = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v));
  const __m512i hi = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1));
  return _mm512_reduce_add_epi64(_mm512_add_epi64(lo, hi));
}

// xs: per group of 64 codes (the last one zero-padded), 8 vectors v = 2b + h (slot 2b + h) of 64 int8
// high parts, then 8 of low parts: xs[(g * 16 + v) * 64 + i] = xh of code 64g + i at coordinate
// kE8pSlotCoord[v]; x_total sums all activations.
__attribute__((target(QS_AVX512))) void e8p_rows_avx512(const uint16_t* idx, int64_t r0, int64_t r1,
                                                        int64_t blocks, const int8_t* xs,
                                                        int64_t x_total, int64_t* sums) {
  const NibbleTables512& nt = nibble_tables512();
  const int64_t groups = (blocks + 63) / 64;
  __m512i tab[4][4];
  for (int b = 0; b < 4; ++b)
    for (int q = 0; q < 4; ++q)
      tab[b][q] = _mm512_load_si512(reinterpret_cast<const void*>(nt.byte[b] + 64 * q));
  alignas(64) uint8_t odd_idx[64], even_idx[64];
  for (int i = 0; i < 64; ++i) {
    odd_idx[i] = static_cast<uint8_t>(2 * i + 1);
    even_idx[i] = static_cast<uint8_t>(2 * i);
  }
  const __m512i hi_sel = _mm512_load_si512(odd_idx), lo_sel = _mm512_load_si512(even_idx);
  const __m512i three = _mm512_set1_epi8(3), one = _mm512_set1_epi8(1), low4 = _mm512_set1_epi8(0x0F);
  // 2-bit index -> nibble flip masks (0x0E low nibble, 0xE0 high nibble), in every 128-bit lane.
  const __m512i spread = _mm512_broadcast_i32x4(
      _mm_setr_epi8(0, 0x0E, static_cast<char>(0xE0), static_cast<char>(0xEE), 0, 0, 0, 0, 0, 0, 0, 0,
                    0, 0, 0, 0));
  for (int64_t r = r0; r < r1; ++r) {
    const uint16_t* c = idx + r * blocks;
    __m512i acc_h = _mm512_setzero_si512(), acc_l = _mm512_setzero_si512();
    for (int64_t g = 0; g < groups; ++g) {
      // The last group may be partial: its missing codes load as 0 and meet zero activations.
      const int64_t left = blocks - 64 * g;
      const __mmask32 m0 = left >= 32 ? ~__mmask32(0) : (__mmask32(1) << left) - 1;
      const __mmask32 m1 = left >= 64 ? ~__mmask32(0)
                           : left <= 32 ? __mmask32(0) : (__mmask32(1) << (left - 32)) - 1;
      const __m512i c0 = _mm512_maskz_loadu_epi16(m0, c + 64 * g);
      const __m512i c1 = _mm512_maskz_loadu_epi16(m1, c + 64 * g + 32);
      const __m512i k = _mm512_permutex2var_epi8(c0, hi_sel, c1);   // S-row indices
      const __m512i rr = _mm512_permutex2var_epi8(c0, lo_sel, c1);  // sign bytes
      const __mmask64 upper = _mm512_movepi8_mask(k);
      const __m512i par = _mm512_and_si512(_mm512_popcnt_epi8(rr), one);
      const __m512i e = _mm512_xor_si512(rr, par);
      const __m512i pm = _mm512_or_si512(par, _mm512_slli_epi16(par, 4));
      const int8_t* xg = xs + g * 1024;
      for (int b = 0; b < 4; ++b) {
        const __m512i lo = _mm512_permutex2var_epi8(tab[b][0], k, tab[b][1]);
        const __m512i hi = _mm512_permutex2var_epi8(tab[b][2], k, tab[b][3]);
        const __m512i packed = _mm512_mask_blend_epi8(upper, lo, hi);
        const __m512i bits = _mm512_and_si512(_mm512_srli_epi16(e, 2 * b), three);
        const __m512i flip = _mm512_or_si512(_mm512_shuffle_epi8(spread, bits), pm);
        const __m512i nib = _mm512_xor_si512(packed, flip);
        const __m512i n0 = _mm512_and_si512(nib, low4);
        const __m512i n1 = _mm512_and_si512(_mm512_srli_epi16(nib, 4), low4);
        const __m512i* xv = reinterpret_cast<const __m512i*>(xg + 64 * (2 * b));
        acc_h = _mm512_dpbusd_epi32(acc_h, n0, _mm512_loadu_si512(xv));
        acc_h = _mm512_dpbusd_epi32(acc_h, n1, _mm512_loadu_si512(xv + 1));
        acc_l = _mm512_dpbusd_epi32(acc_l, n0, _mm512_loadu_si512(xv + 8));
        acc_l = _mm512_dpbusd_epi32(acc_l, n1, _mm512_loadu_si512(xv + 9));
      }
    }
    // |acc| per lane per group <= 8 * 4 * 15 * 128 = 61440: int32 holds 34000 groups (n < 17M).
    const int64_t s = 256 * hsum512_epi32(acc_h) + hsum512_epi32(acc_l);
    sums[r] = 2 * s - 15 * x_total;
  }
}

// E81B indices (the 3-bit residual stage, §4.3) on 64 codes per step: coordinate j of every code
// from a 256-entry byte table of 2 * entry + 4 (unsigned 0..8, four zmm registers per coordinate),
// then vpdpbusd on the int8-split activations as in e8p_rows_avx512; the +4 offset comes off as
// 4 * sum(x). xs is laid out as there but with vector v = coordinate v.
struct E81bTables512 {
  alignas(64) uint8_t coord[8][256];
};

const E81bTables512& e81b_tables512() {
  static const E81bTables512 t = [] {
    E81bTables512 e{};
    const IntTables& it = int_tables();
    for (int k = 0; k < 256; ++k)
      for (int j = 0; j < 8; ++j) e.coord[j][k] = static_cast<uint8_t>(it.e81b[k * 8 + j] + 4);
    return e;
  }();
  return t;
}

__attribute__((target(QS_AVX512))) void e81b_rows_avx512(const uint8_t* idx, int64_t r0, int64_t r1,
                                                         int64_t blocks, const int8_t* xs,
                                                         int64_t x_total, int64_t* sums) {
  const E81bTables512& et = e81b_tables512();
  const int64_t groups = (blocks + 63) / 64;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* c = idx + r * blocks;
    __m512i acc_h = _mm512_setzero_si512(), acc_l = _mm512_setzero_si512();
    for (int64_t g = 0; g < groups; ++g) {
      const int64_t left = blocks - 64 * g;
      const __mmask64 m = left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1;
      const __m512i k = _mm512_maskz_loadu_epi8(m, c + 64 * g);
      const __mmask64 upper = _mm512_movepi8_mask(k);
      const __m512i* xv = reinterpret_cast<const __m512i*>(xs + g * 1024);
      for (int j = 0; j < 8; ++j) {
        const __m512i* tj = reinterpret_cast<const __m512i*>(et.coord[j]);
        const __m512i lo = _mm512_permutex2var_epi8(_mm512_load_si512(tj), k, _mm512_load_si512(tj + 1));
        const __m512i hi = _mm512_permutex2var_epi8(_mm512_load_si512(tj + 2), k, _mm512_load_si512(tj + 3));
        const __m512i w = _mm512_mask_blend_epi8(upper, lo, hi);
        acc_h = _mm512_dpbusd_epi32(acc_h, w, _mm512_loadu_si512(xv + j));
        acc_l = _mm512_dpbusd_epi32(acc_l, w, _mm512_loadu_si512(xv + 8 + j));
      }
    }
    // |acc| per lane per group <= 8 * 4 * 8 * 128: int32 holds 65000 groups.
    sums[r] = 256 * hsum512_epi32(acc_h) + hsum512_epi32(acc_l) - 4 * x_total;
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

int32_t resolve_kernel(int32_t kernel) {
  require(kernel == QS_KERNEL_AUTO || kernel == QS_KERNEL_SCALAR || kernel == QS_KERNEL_AVX2 ||
              kernel == QS_KERNEL_AVX512,
          "kernel = ", kernel, " must be 0 (auto), 1 (scalar), 2 (avx2) or 3 (avx512)");
  if (kernel == QS_KERNEL_AVX2 && !cpu_has_avx2())
    fail(QS_ERR_INVALID_ARGUMENT, "kernel = 2 (avx2) is not available on this CPU");
  if (kernel == QS_KERNEL_AVX512 && !cpu_has_avx512())
    fail(QS_ERR_INVALID_ARGUMENT, "kernel = 3 (avx512) is not available on this CPU");
  if (kernel == QS_KERNEL_AUTO)
    return cpu_has_avx512() ? QS_KERNEL_AVX512 : cpu_has_avx2() ? QS_KERNEL_AVX2 : QS_KERNEL_SCALAR;
  return kernel;
}

template <typename Index>
void table_matvec(const int8_t* table, double table_scale, const Index* idx, int64_t m, int64_t n,
                  const float* u, float* z, int32_t kernel) {
  std::vector<int16_t> uq;
  const double scale = quantize_activation(u, n, uq) / table_scale;
  std::vector<int64_t> sums(static_cast<size_t>(m));
  const int64_t blocks = n / 8;
#ifdef QS_X86
  // E8P12 codes (uint16) on AVX2 take the nibble kernel, E81B indices (uint8) the table kernel.
  std::vector<int16_t> xp;
  std::vector<int8_t> xs;
  int64_t x_total = 0;
  if (kernel == QS_KERNEL_AVX512) {
    // Activations of the AVX-512 kernels: per 64 codes, vector v's activation (slot v for E8P12,
    // coordinate v for E81B) split into int8 high and low parts (x = 256 xh + xl, xl in [-128, 127]).
    const int64_t groups = (blocks + 63) / 64;
    xs.assign(static_cast<size_t>(groups * 1024), 0);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t v = 0; v < 8; ++v) {
        const int64_t coord = sizeof(Index) == 2 ? kE8pSlotCoord[v] : v;
        for (int64_t i = 0; i < 64 && 64 * g + i < blocks; ++i) {
          const int32_t x = uq[(64 * g + i) * 8 + coord];
          const int32_t xh = (x + 128) >> 8;
          xs[(g * 16 + v) * 64 + i] = static_cast<int8_t>(xh);
          xs[(g * 16 + 8 + v) * 64 + i] = static_cast<int8_t>(x - 256 * xh);
          x_total += x;
        }
      }
  }
  if constexpr (sizeof(Index) == 2) {
    if (kernel == QS_KERNEL_AVX2) {
      // Activations in the nibble kernel's order: per 8 blocks, pair q of block i at [q][i].
      const int64_t groups = blocks / 8;
      xp.resize(static_cast<size_t>(groups * 64));
      for (int64_t g = 0; g < groups; ++g)
        for (int64_t i = 0; i < 8; ++i)
          for (int64_t q = 0; q < 4; ++q) {
            const int16_t* src = &uq[(8 * g + i) * 8 + 2 * q];
            xp[g * 64 + q * 16 + 2 * i] = src[0];
            xp[g * 64 + q * 16 + 2 * i + 1] = src[1];
            x_total += src[0] + src[1];
          }
    }
  }
#endif
  // At least ~128k weights per chunk: waking the pool costs more than a small matrix.
  parallel_for(0, m, std::max<int64_t>(64, (int64_t(1) << 17) / n), [&](int64_t lo, int64_t hi) {
#ifdef QS_X86
    if (kernel == QS_KERNEL_AVX512) {
      if constexpr (sizeof(Index) == 2) {
        e8p_rows_avx512(idx, lo, hi, blocks, xs.data(), x_total, sums.data());
      } else {
        e81b_rows_avx512(idx, lo, hi, blocks, xs.data(), x_total, sums.data());
      }
      return;
    }
    if (kernel == QS_KERNEL_AVX2) {
      if constexpr (sizeof(Index) == 2) {
        e8p_rows_nibbles(int_tables(), idx, lo, hi, blocks, xp.data(), uq.data(), x_total,
                         sums.data());
      } else {
        rows_avx2(table, idx, lo, hi, blocks, uq.data(), sums.data());
      }
      return;
    }
#endif
    rows_scalar(table, idx, lo, hi, blocks, uq.data(), sums.data());
  });
  for (int64_t r = 0; r < m; ++r) z[r] = static_cast<float>(static_cast<double>(sums[r]) * scale);
}

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

extern "C" int32_t qs_e8p_matvec(const uint16_t* codes, int64_t m, int64_t n, const float* u,
                                 float* z, int32_t kernel) {
  return qs::guard([&] {
    qs::validate_matvec(codes, m, n, u, z, true);
    const int32_t k = qs::resolve_kernel(kernel);
    qs::table_matvec(qs::int_tables().e8p.data(), 4.0, codes, m, n, u, z, k);
  });
}

extern "C" int32_t qs_e81b_matvec(const uint8_t* codes, int64_t m, int64_t n, const float* u,
                                  float* z, int32_t kernel) {
  return qs::guard([&] {
    qs::validate_matvec(codes, m, n, u, z, true);
    const int32_t k = qs::resolve_kernel(kernel);
    qs::table_matvec(qs::int_tables().e81b.data(), 2.0, codes, m, n, u, z, k);
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
