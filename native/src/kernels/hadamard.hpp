// Randomized Hadamard transform (§2 of shared/design/QUIPSHARP.md): base matrices, base-order
// selection, the fast O(n log n + m_b n) transform and the random sign vectors.
//
// Functions marked "validated callers" assume their arguments are valid (checked by the caller, e.g.
// with require_hadamard_order); everything else throws qs::Error (see status.hpp) on bad input.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// The base orders of §2.3, ascending (1 = the trivial base, used for powers of two).
inline constexpr int32_t kHadamardBaseOrders[] = {1, 12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172};
inline constexpr int kHadamardBaseCount = 13;

// Largest n accepted by hadamard_matrix_dense / qs_hadamard_matrix.
inline constexpr int64_t kHadamardDenseMaxOrder = 8192;

// True if m is one of kHadamardBaseOrders.
bool is_hadamard_base(int64_t m);

// The unnormalized ±1 base matrix H_m of §2.3, m*m row-major, and its transpose; nullptr if m is not a
// base order. Built once on first use (thread-safe); the pointers stay valid for the program's life.
const int8_t* hadamard_base(int64_t m);
const int8_t* hadamard_base_transposed(int64_t m);

// The header-only helpers below (orders, §2.2) are usable from anywhere, including the test
// executables, which link the shared library where the out-of-line functions of this file are hidden.

// Base order m_b of n per §2.2 (1 for powers of two), or 0 if n is not supported (including n <= 0).
inline int32_t hadamard_base_order(int64_t n) {
  constexpr int32_t kSelectionOrder[] = {172, 156, 140, 124, 116, 108, 60, 52, 36, 28, 20, 12};
  if (n <= 0) return 0;
  for (const int32_t m : kSelectionOrder) {
    if (n % m == 0) {
      const int64_t q = n / m;
      return (q & (q - 1)) == 0 ? m : 0;
    }
  }
  return (n & (n - 1)) == 0 ? 1 : 0;
}
inline bool is_hadamard_order(int64_t n) { return hadamard_base_order(n) != 0; }

// Calls f(c) for every supported order c representable in int64 (not in increasing order).
template <typename F>
void for_each_hadamard_order(F&& f) {
  for (const int32_t m : kHadamardBaseOrders) {
    for (int64_t c = m;; c *= 2) {
      if (hadamard_base_order(c) == m) f(c);
      if (c > INT64_MAX / 2) break;
    }
  }
}

// The largest supported order below n and the smallest above n (whichever exist; n itself excluded),
// ascending. Used in error messages.
inline std::vector<int64_t> nearby_supported_orders(int64_t n) {
  int64_t below = 0, above = 0;
  for_each_hadamard_order([&](int64_t c) {
    if (c < n && c > below) below = c;
    if (c > n && (above == 0 || c < above)) above = c;
  });
  std::vector<int64_t> out;
  if (below > 0) out.push_back(below);
  if (above > 0) out.push_back(above);
  return out;
}

// Smallest supported order >= n that is a multiple of `multiple_of` (>= 1), or 0 if there is none
// representable in int64 (or n <= 0, multiple_of < 1). E.g. next_supported_order(10920, 8) = 11008
// for the padding rule of §10.6 (which first keeps n itself when n is supported).
inline int64_t next_supported_order(int64_t n, int64_t multiple_of = 1) {
  if (n <= 0 || multiple_of < 1) return 0;
  int64_t best = 0;
  for_each_hadamard_order([&](int64_t c) {
    if (c >= n && c % multiple_of == 0 && (best == 0 || c < best)) best = c;
  });
  return best;
}

// "<name> = <n> is not a supported Hadamard order: ...; nearest supported: a, b".
std::string unsupported_order_message(const char* name, int64_t n);

// Throws QS_ERR_INVALID_ARGUMENT (message above, or "<name> = <n> must be positive") unless n is a
// supported order. Returns the base order m_b.
int32_t require_hadamard_order(int64_t n, const char* name);

// Validated callers (n supported, batch >= 0, x holds batch*n values): in place, for each of the `batch`
// contiguous vectors of length n, x <- M_n x (transpose = false) or x <- M_n^T x (transpose = true).
void hadamard_transform(float* x, int64_t batch, int64_t n, bool transpose);
void hadamard_transform(double* x, int64_t batch, int64_t n, bool transpose);

// Validated callers: the same transform applied to every column of a row-major n x cols matrix
// (column j is the vector x[i*cols + j], i = 0..n-1). Works on the matrix directly (no transpose).
void hadamard_transform_columns(float* x, int64_t n, int64_t cols, bool transpose);
void hadamard_transform_columns(double* x, int64_t n, int64_t cols, bool transpose);

// Dense M_n = (H_mb ⊗ S_2^k)/sqrt(n), n*n row-major, built entry by entry from the definition of §2.1
// (independent of the fast transform). Validated callers (n supported, n <= kHadamardDenseMaxOrder).
void hadamard_matrix_dense(int64_t n, float* out);
void hadamard_matrix_dense(int64_t n, double* out);

// n signs (+1/-1) from (seed, stream); the exact generator is documented in hadamard.cpp and matches
// qs_random_signs. Validated callers (n >= 0, out holds n values).
void random_signs(int64_t n, uint64_t seed, uint64_t stream, float* out);
void random_signs(int64_t n, uint64_t seed, uint64_t stream, double* out);

// Randomized Hadamard transform of every vector of a row-major rows x cols matrix `a`, exactly as
// qs_rht_apply_f32: axis = 1 -> the rows are the vectors (n = cols), axis = 0 -> the columns are
// (n = rows); forward: v <- M_n^T (s ⊙ v), inverse: v <- s ⊙ (M_n v); `signs` has n entries.
// Validated callers (n supported, the other dimension >= 0, axis in {0, 1}).
void rht_apply(float* a, int64_t rows, int64_t cols, int axis, const float* signs, bool inverse);
void rht_apply(double* a, int64_t rows, int64_t cols, int axis, const double* signs, bool inverse);

}  // namespace qs
