// The parts of the CPU mat-vec kernels shared by their files (kernels/matvec_*.cpp): the integer
// tables, the activation layout, and one entry per instruction set. The scalar kernel
// (matvec_scalar.cpp) is the reference; the AVX2 (matvec_avx2.cpp) and AVX-512 (matvec_avx512.cpp)
// kernels compute the same integers, so all agree bit for bit; matvec.cpp holds the entry points
// and picks the kernel (kernels/cpu_features.hpp). The functions declared here have no target
// attribute: each instruction-set file calls its target-specific code inside them.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#define QS_X86 1
#endif

#include "kernels/matvec.hpp"

namespace qs {
namespace matvec {

// The order the integer kernels keep E81B indices in (qs_qlayer_create and qs_e81b_matvec map the
// §4.3 index to it): the 128 rows that are not half-integer points keep their relative order as
// kernel indices 0-127; the half-integer point (±1/2)^8 with signs s (s_j = 1 for -1/2, an even
// number of them) is 128 + s_0 + 2 s_1 + ... + 64 s_6, and s_7 is the parity of s_0..s_6. So the
// AVX-512 kernel decodes the upper half with one gf2p8affineqb instead of a second table lookup.
struct E81bOrder {
  uint8_t to_kernel[256];
  uint8_t to_original[256];
};

const E81bOrder& e81b_order();

struct IntTables {
  const int8_t* e8p;         // 65536 x 8: 4 * codeword (e8p_times4_table)
  std::vector<int8_t> e81b;  // 256 x 8: 2 * entry, by kernel index (e81b_order)
  // The nibble form of §3.3/§7.3 for the vector kernel: packed[k] holds nu = 2 B_kj + 8 in nibble
  // p = slot of coordinate j (1 KiB, stays in L1).
  alignas(32) int32_t packed[256];
};

const IntTables& int_tables();

// The activation is rounded to integers with |uq| <= levels: 127 (8-bit, the default: one vpdpbusd
// per byte vector on AVX-512) or 16383 (16-bit: split in two int8 halves there, half the speed).
inline int32_t activation_levels(int32_t bits) { return bits == 16 ? 16383 : 127; }

// One activation: round(u * q) clamped to [-levels, levels] (round to nearest even, as cvtpd2dq).
inline int16_t round_activation(float u, double q, int32_t levels) {
  const long v = std::lrint(static_cast<double>(u) * q);
  return static_cast<int16_t>(std::max<long>(-levels, std::min<long>(levels, v)));
}

// The integer product of one code's table row with its 8 activations (the scalar reference, and the
// vector kernels' tails).
inline int32_t code_dot(const int8_t* table, uint32_t code, const int16_t* x) {
  const int8_t* w = table + static_cast<int64_t>(code) * 8;
  int32_t d = 0;
  for (int j = 0; j < 8; ++j) d += static_cast<int32_t>(w[j]) * x[j];
  return d;
}

// Codes are prefetched 2 KiB ahead in each stream: it outruns DRAM latency (AVX-512: measured best of 0.5-4 KiB).
constexpr int64_t kPrefetchBytes = 2048;

// Which stages one pass of a vector kernel reads.
enum class Stages { kE8p, kE81b, kE8pE8p, kE8pE81b };
constexpr bool has_second(Stages s) { return s == Stages::kE8pE8p || s == Stages::kE8pE81b; }
constexpr bool first_is_e81b(Stages s) { return s == Stages::kE81b; }
constexpr bool second_is_e81b(Stages s) { return s == Stages::kE8pE81b; }

// Calls run(std::integral_constant<Stages, ...>{}, first codes, second codes or nullptr) with the
// stages `c` holds: the one dispatch of every vector kernel's stage_rows.
template <class Run>
inline void for_stages(const StageCodes& c, Run&& run) {
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

// A row's integer sum of (table value) * x from its nibble sum: 4 * codeword = 2 nu' - 15 (E8P12),
// 2 * entry = nibble - 4 (E81B); x_total sums the activations the nibbles met.
constexpr int64_t stage_sum(bool e81b, int64_t nibble_sum, int64_t x_total) {
  return e81b ? nibble_sum - 4 * x_total : 2 * nibble_sum - 15 * x_total;
}

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

// ---- the scalar reference (matvec_scalar.cpp) ----
// uq = round(u * levels / max|u|); returns max|u| / levels.
double quantize_activation(const float* u, int64_t n, int32_t levels, std::vector<int16_t>& uq);
// Rows [lo, hi) of one stage (E8P12 codes or E81B kernel indices): exact integer sums.
void stage_rows_scalar(const uint16_t* idx, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* sums);
void stage_rows_scalar(const uint8_t* idx, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* sums);
// y[r] = W x for rows [r0, r1) of fp32 / fp16 weights (double sums).
void dense_rows_scalar(const float* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y);
void dense_rows_scalar(const uint16_t* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y);

#ifdef QS_X86
// ---- AVX2 (matvec_avx2.cpp) ----
// quantize_activation with the same integers.
double quantize_activation_avx2(const float* u, int64_t n, int32_t levels, std::vector<int16_t>& uq);
// a.xb, a.xb_total: the layout rows_avx2 reads.
void layout_activation_avx2(Activation& a, int64_t n);
// Rows [lo, hi) of every stage of `c` in one pass.
void stage_rows_avx2(const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks, const Activation& a,
                     int64_t* s1, int64_t* s2);
void dense_rows_avx2(const float* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y);
void dense_rows_avx2(const uint16_t* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y);

// ---- AVX-512 (matvec_avx512.cpp) ----
// a.xs: the layout rows_avx512 reads.
void layout_activation_avx512(Activation& a, int64_t n);
void stage_rows_avx512(const StageCodes& c, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* s1, int64_t* s2);
#endif

}  // namespace matvec
}  // namespace qs
