// Dense GEMM used by the Cholesky / block LDL (double) and by BlockLDLQ's feedback and refinement
// terms (float), §5.1-§5.3, and by the decode-to-tile prefill of quantized layers (float, PackedB).
#pragma once

#include <cstdint>
#include <vector>

namespace qs {

// C (M x N, ldc) += alpha * A (M x K, lda) * B (K x N, ldb); all row-major. Multithreaded over rows of C.
// The AVX2+FMA micro-kernel runs when kernel_for_auto() (kernels/cpu_features.hpp) is AVX2 or wider;
// the portable kernel is the reference and the fallback (both accumulate in the same order, so
// results agree to rounding).
void sgemm_acc(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float* C, int64_t ldc);
void dgemm_acc(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
               const double* B, int64_t ldb, double* C, int64_t ldc);

// B (K x N) packed once for several products: the decode-to-tile GEMM multiplies every weight tile
// by the same activations. transposed: B(k, c) is B[c * ldb + k] (pack x^T straight from x).
class PackedB {
 public:
  PackedB(const float* B, int64_t K, int64_t N, int64_t ldb, bool transposed);

 private:
  friend void sgemm_acc(int64_t M, float alpha, const float* A, int64_t lda, const PackedB& B,
                        float* C, int64_t ldc);
  int64_t K_, N_;
  std::vector<float> data_;
};

// C (M x N, ldc) += alpha * A (M x K, lda) * B, the same sums in the same order as the other sgemm_acc.
void sgemm_acc(int64_t M, float alpha, const float* A, int64_t lda, const PackedB& B, float* C,
               int64_t ldc);

}  // namespace qs
