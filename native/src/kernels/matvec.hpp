// CPU inference kernels (see matvec.cpp) and the fp16 conversions they share.
#pragma once

#include <cstdint>

#include "kernels/cpu_features.hpp"  // resolve_kernel

namespace qs {

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);  // round to nearest even

// The codes of one quantized matrix for the integer mat-vec kernels: E8P12 codes (or, for E81B alone,
// e8p = nullptr and e81b set), plus an optional second stage (E8P12 codes for RVQ4, E81B indices for
// RVQ3, as e81b_kernel_index gives them) that adds second_weight (1 / rho2) times its product.
struct StageCodes {
  const uint16_t* e8p;
  const uint16_t* e8p2;
  const uint8_t* e81b;
  float second_weight;
};

// z = W~ u for an m x n matrix (n % 8 == 0; inputs validated by the caller, kernel resolved: not
// QS_KERNEL_AUTO). The activation is quantized once, at the process setting (qs_set_activation_bits);
// on AVX-512 all stages are read in one pass. Bit-identical on every kernel.
void stages_matvec(const StageCodes& codes, int64_t m, int64_t n, const float* u, float* z,
                   int32_t kernel);
// The index the integer kernels use for the §4.3 E81B row `index` (StageCodes.e81b holds these).
uint8_t e81b_kernel_index(uint8_t index);

}  // namespace qs
