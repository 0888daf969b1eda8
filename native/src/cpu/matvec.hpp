// CPU inference kernels (see matvec.cpp) and the fp16 conversions they share.
#pragma once

#include <cstdint>

namespace qs {

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);  // round to nearest even

}  // namespace qs
