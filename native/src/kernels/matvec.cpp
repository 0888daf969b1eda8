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
//
// This file holds the entry points and picks the kernel (kernels/cpu_features.hpp); the kernels live
// in matvec_scalar.cpp (the reference), matvec_avx2.cpp and matvec_avx512.cpp (matvec_kernels.hpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/parallel.hpp"
#include "common/status.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/matvec.hpp"
#include "kernels/matvec_kernels.hpp"
#include "quant/codebook.hpp"
#include "quant/e8p12.hpp"


namespace qs {

using namespace matvec;

namespace {

// The activation is rounded to integers with |uq| <= levels: 127 (8-bit, the default: one vpdpbusd
// per byte vector on AVX-512) or 16383 (16-bit: split in two int8 halves there, half the speed).

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
#ifdef QS_X86
  if (kernel == QS_KERNEL_AVX512) layout_activation_avx512(a, n);
  if (kernel == QS_KERNEL_AVX2) layout_activation_avx2(a, n);
#endif
  return a;
}

}  // namespace

uint8_t e81b_kernel_index(uint8_t index) { return e81b_order().to_kernel[index]; }

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
    if (kernel == QS_KERNEL_AVX512) return stage_rows_avx512(c, lo, hi, blocks, a, s1.data(), s2.data());
    if (kernel == QS_KERNEL_AVX2) return stage_rows_avx2(c, lo, hi, blocks, a, s1.data(), s2.data());
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

// y = W x for fp32 (float) or fp16 (uint16_t) weights; double accumulation in the scalar reference.
template <typename Weight>
void dense_matvec(const Weight* w, int64_t m, int64_t n, const float* x, float* y, int32_t kernel) {
  validate_matvec(w, m, n, x, y, false);
  const int32_t k = resolve_kernel(kernel);
  parallel_for(0, m, std::max<int64_t>(16, (int64_t(1) << 16) / n), [&](int64_t lo, int64_t hi) {
#ifdef QS_X86
    if (k == QS_KERNEL_AVX2 || k == QS_KERNEL_AVX512) return dense_rows_avx2(w, lo, hi, n, x, y);
#endif
    dense_rows_scalar(w, lo, hi, n, x, y);
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
