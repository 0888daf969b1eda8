// Shared validation of a quantized matrix's parts (codes, sign vectors, scale, shape) for the
// decode / mat-vec entry points and the prepared CPU layer.
#pragma once

#include <cstdint>

namespace qs {

// Throws QS_ERR_INVALID_ARGUMENT naming the bad argument: null pointers, rows/cols (cols % 8, and
// supported Hadamard orders with the nearest ones when use_rht), wscale, use_rht, the codebook id.
void validate_qlinear(int32_t codebook_id, const uint32_t* codes, int64_t m, int64_t n,
                      const float* s_in, const float* s_out, double wscale, int32_t use_rht);

}  // namespace qs
