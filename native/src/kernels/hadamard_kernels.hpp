// The parts of the fast Hadamard transform (§2.4 of shared/design/QUIPSHARP.md) shared by its files:
// hadamard_scalar.cpp (the portable reference), hadamard_avx2.cpp and hadamard_avx512.cpp each
// compile the one kernel source hadamard_transform.inc for their instruction set, and hadamard.cpp
// (the base matrices, the packed coefficient tables, the random signs and the C entry points) picks
// one of them (kernels/cpu_features.hpp).
//
// The three builds are one source on purpose: the compiler vectorizes the same loops for each ISA
// and, with floating-point contraction off (ISO C++), they compute bit-identical results, which
// native/tests/test_hadamard.cpp checks. As in the other kernels/*_avx*.cpp files, the instruction
// set is a target attribute on each kernel function, not a whole-file -mavx2 / -mavx512f: those flags
// would also compile the std:: templates a file instantiates (std::vector's) for that ISA, and the
// linker keeps one copy of each for the whole library, possibly the AVX-512 one for the scalar path.
// The kernels sit in an anonymous namespace in each file for the same reason.
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#define QS_X86 1
#endif

#include "kernels/hadamard.hpp"

namespace qs {
namespace hadamard {

// Row-block size of the base-step micro-kernel; every base order > 1 is a multiple of 4.
constexpr int32_t kRowBlock = 4;

// Coefficients of H_m (transpose = false) or H_m^T as T (float or double), packed for the
// micro-kernel: packed[(a0 / 4) * 4m + 4c + r] = K[a0 + r][c]. Built on first use of each (base, T)
// by hadamard.cpp (thread-safe); valid for the program's life. m must be a base order > 1.
template <typename T>
const T* packed_coefficients(int32_t m, bool transpose);

// Shared per-transform constants (n a supported order).
template <typename T>
struct Plan {
  int32_t mb;
  int64_t L;
  const T* packed;  // nullptr for mb = 1
  T scale;

  Plan(int64_t n, bool transpose) {
    mb = hadamard_base_order(n);
    L = n / mb;
    packed = mb > 1 ? packed_coefficients<T>(mb, transpose) : nullptr;
    scale = static_cast<T>(1.0 / std::sqrt(static_cast<double>(n)));
  }
};

// Every kernel family has the same two entries, for T = float and double (validated callers, see
// hadamard.hpp):
//   transform_rows_*: every vector x + v*n (v < batch);
//   transform_cols_*: every column of the row-major n x cols matrix x;
// each with optional sign vectors applied before (pre) / after (post) the transform (nullptr: none).

// ---- the scalar reference (hadamard_scalar.cpp) ----
template <typename T>
void transform_rows_scalar(T* x, int64_t batch, int64_t n, bool transpose, const T* pre, const T* post);
template <typename T>
void transform_cols_scalar(T* x, int64_t n, int64_t cols, bool transpose, const T* pre, const T* post);

#ifdef QS_X86
// ---- AVX2 (hadamard_avx2.cpp) ----
template <typename T>
void transform_rows_avx2(T* x, int64_t batch, int64_t n, bool transpose, const T* pre, const T* post);
template <typename T>
void transform_cols_avx2(T* x, int64_t n, int64_t cols, bool transpose, const T* pre, const T* post);

// ---- AVX-512 (hadamard_avx512.cpp) ----
template <typename T>
void transform_rows_avx512(T* x, int64_t batch, int64_t n, bool transpose, const T* pre, const T* post);
template <typename T>
void transform_cols_avx512(T* x, int64_t n, int64_t cols, bool transpose, const T* pre, const T* post);
#endif

}  // namespace hadamard
}  // namespace qs
