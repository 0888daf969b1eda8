// Shared validation and padded shape (§10.6) of a quantized matrix's parts (codes, sign vectors,
// scale) for the quantizer, the decode / mat-vec entry points and the prepared CPU layer.
#pragma once

#include <cstdint>
#include <vector>

#include "quipsharp/quipsharp.h"

namespace qs {

// The internal shape of a quantized rows x cols matrix (§10.6): the RHT runs on rht_rows x rht_cols
// (each dimension itself when it is a supported Hadamard order, else zero-padded to the smallest
// supported order that is a multiple of 8; without RHT the dimensions themselves), and the codes
// cover rht_rows x code_cols with code_cols = rht_cols rounded up to a multiple of 8 (zero columns
// appended after the transform). Codes: rht_rows * code_cols / 8; s_in: rht_cols; s_out: rht_rows.
struct QShape {
  int64_t rows, cols;
  int64_t rht_rows, rht_cols, code_cols;
  bool padded() const { return rht_rows != rows || rht_cols != cols || code_cols != cols; }
  int64_t code_count() const { return rht_rows * (code_cols / 8); }
};

// Throws QS_ERR_INVALID_ARGUMENT for non-positive sizes, use_rht not 0/1, or sizes beyond every
// supported order.
QShape qlinear_shape(int64_t rows, int64_t cols, int32_t use_rht);

// Throws QS_ERR_INVALID_ARGUMENT naming the bad field of a quantized matrix's description: a null
// desc or pointer, rows/cols, wscale, use_rht, the codebook id. Returns the padded shape.
QShape validate_qlinear(const qs_qlinear_desc* desc);

// validate_qlinear, plus every code in range for the codebook and finite signs: for the functions
// that keep the matrix (prepared layers, the model).
QShape validate_qlinear_in_full(const qs_qlinear_desc* desc);

// u (batch x code_cols) = [M^T (s_in ⊙ x padded to rht_cols), 0 ...] for x (batch x cols): the input
// side of §7.1 on the padded shape (validated callers; without RHT only the signs apply).
std::vector<float> input_transform(const QShape& s, const float* x, int64_t batch, const float* s_in,
                                   int32_t use_rht);

}  // namespace qs
