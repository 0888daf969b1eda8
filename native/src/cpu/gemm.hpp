// Dense GEMM used by the Cholesky / block LDL (double) and by BlockLDLQ's feedback and refinement
// terms (float), §5.1-§5.3.
#pragma once

#include <cstdint>

namespace qs {

// C (M x N, ldc) += alpha * A (M x K, lda) * B (K x N, ldb); all row-major. Multithreaded over rows of C.
// An AVX2+FMA micro-kernel is chosen at start-up when the CPU has it; the portable kernel is the
// reference and the fallback (both accumulate in the same order, so results agree to rounding).
void sgemm_acc(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float* C, int64_t ldc);
void dgemm_acc(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
               const double* B, int64_t ldb, double* C, int64_t ldc);

// Forces the portable kernels (tests compare the two).
void gemm_force_portable(bool portable);

}  // namespace qs
