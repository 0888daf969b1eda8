// The AVX-512 (F, BW, VBMI, VNNI, GFNI) CPU codebook mat-vec kernels: the same integers as the
// scalar reference in matvec_scalar.cpp. See matvec_kernels.hpp.
#include "kernels/matvec_kernels.hpp"

#ifdef QS_X86
#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "quant/e8p12.hpp"

namespace qs {
namespace matvec {
namespace {

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
// Rows [lo, hi) of every stage of `c` in one pass, on the AVX-512 kernel.
template <bool kSplit>
void stage_rows(const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks, const Activation& a,
                int64_t* s1, int64_t* s2) {
  const auto run = [&](auto stages, const void* c1, const void* c2) {
    constexpr Stages kStages = decltype(stages)::value;
    rows_avx512<kStages, kSplit>(c1, c2, lo, hi, blocks, a.xs.data(), a.x_total, s1, s2);
  };
  for_stages(c, run);
}

}  // namespace

void layout_activation_avx512(Activation& a, int64_t n) {
  const int64_t blocks = n / 8;
  // Block i of group g: slot v's activation at xs[(g * 16 + v) * 64 + i % 64] (high part) and
  // [(g * 16 + 8 + v) * 64 + i % 64] (low part); x = 256 xh + xl, xl in [-128, 127] (8-bit: xh = 0).
  a.xs.assign(static_cast<size_t>((blocks + 63) / 64 * 1024), 0);
  if (!a.split) {
    for (int64_t g = 0; g < (blocks + 63) / 64; ++g)
      layout_group8_avx512(&a.uq[g * 512], std::min<int64_t>(512, n - g * 512), &a.xs[g * 1024 + 512]);
    return;
  }
  for (int64_t i = 0; i < blocks; ++i) {
    int8_t* high = &a.xs[(i / 64) * 1024 + i % 64];
    int8_t* low = high + 8 * 64;
    const int16_t* x = &a.uq[i * 8];
    for (int v = 0; v < 8; ++v) split_activation(x[kE8pSlotCoord[v]], high + v * 64, low + v * 64);
  }
}

void stage_rows_avx512(const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* s1, int64_t* s2) {
  if (a.split) {
    stage_rows<true>(c, lo, hi, blocks, a, s1, s2);
  } else {
    stage_rows<false>(c, lo, hi, blocks, a, s1, s2);
  }
}

}  // namespace matvec
}  // namespace qs
#endif  // QS_X86
