// Blocked GEMM (see gemm.hpp): packs B in panels and A in strips, and runs the micro-kernel of the
// selected family over them (gemm_scalar.cpp, gemm_avx2.cpp; gemm_kernels.hpp).
#include "kernels/cpu_features.hpp"
#include "kernels/gemm.hpp"
#include "kernels/gemm_kernels.hpp"

#include <algorithm>
#include <vector>

#include "common/parallel.hpp"

namespace qs {

using namespace gemm;

namespace {

// The micro-kernel of the selected family (kernels/cpu_features.hpp) for `rows` rows.
template <typename T>
Kernel<T> kernel_for_rows(int rows) {
#ifdef QS_X86
  if (kernel_for_auto() >= QS_KERNEL_AVX2) return avx2_kernel<T>(rows);
#endif
  return scalar_kernel<T>(rows);
}

constexpr int64_t kBlockCols = 256;  // N block: its kDepth x kBlockCols panels stay in L2
static_assert(kBlockCols % panel_width<float>() == 0 && kBlockCols % panel_width<double>() == 0,
              "an N block is whole panels");

// Packs rows [k0, k0 + kc) and columns [n0, n0 + nc) of B (element (k, c) = b(k, c)) into panels of
// P columns, zero-padded: panel p holds dst[p * kc * P + k * P + c].
template <typename T, typename Source>
void pack_block(Source b, int64_t N, int64_t n0, int64_t nc, int64_t k0, int64_t kc, T* dst) {
  constexpr int P = panel_width<T>();
  const int64_t panels = (nc + P - 1) / P;
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t c0 = n0 + p * P;
    const int64_t width = std::min<int64_t>(P, N - c0);
    T* d = dst + p * kc * P;
    for (int64_t k = 0; k < kc; ++k) {
      int64_t c = 0;
      for (; c < width; ++c) d[k * P + c] = b(k0 + k, c0 + c);
      for (; c < P; ++c) d[k * P + c] = T(0);
    }
  }
}

// C[:, n0 : n0 + nc) += alpha * A[:, k0 : k0 + kc) * (the packed block): every 6-row strip of A is
// packed k-major (L1) and run against all panels. Threads split the strips.
template <typename T>
void multiply_block(int64_t M, int64_t N, T alpha, const T* A, int64_t lda, const T* packed, int64_t n0,
                    int64_t nc, int64_t k0, int64_t kc, T* C, int64_t ldc) {
  constexpr int P = panel_width<T>();
  const int64_t panels = (nc + P - 1) / P;
  const int64_t strips = (M + kRows - 1) / kRows;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 17) / std::max<int64_t>(1, nc * kc * kRows));
  parallel_for(0, strips, grain, [&](int64_t s_lo, int64_t s_hi) {
    alignas(32) T acc[kRows * P];
    alignas(32) T a_packed[kDepth * kRows];
    for (int64_t s = s_lo; s < s_hi; ++s) {
      const int64_t r0 = s * kRows;
      const int rows = static_cast<int>(std::min<int64_t>(kRows, M - r0));
      for (int64_t k = 0; k < kc; ++k)
        for (int r = 0; r < kRows; ++r) a_packed[k * kRows + r] = r < rows ? A[(r0 + r) * lda + k0 + k] : T(0);
      const Kernel<T> kernel = kernel_for_rows<T>(rows);
      for (int64_t p = 0; p < panels; ++p) {
        kernel(kc, a_packed, packed + p * kc * P, acc);
        const int64_t c0 = n0 + p * P;
        const int64_t width = std::min<int64_t>(P, N - c0);
        for (int r = 0; r < rows; ++r) {
          T* crow = C + (r0 + r) * ldc + c0;
          for (int64_t c = 0; c < width; ++c) crow[c] += alpha * acc[r * P + c];
        }
      }
    }
  });
}

// GotoBLAS-style blocking: for each block of kBlockCols columns and kDepth rows of B, pack B into
// panels (they stay in L2), then multiply every strip of A with them.
template <typename T>
void gemm_acc(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda, const T* B,
              int64_t ldb, T* C, int64_t ldc) {
  if (M <= 0 || N <= 0 || K <= 0) return;
  std::vector<T> packed(static_cast<size_t>(kDepth * kBlockCols));
  const auto b = [&](int64_t k, int64_t c) { return B[k * ldb + c]; };
  for (int64_t n0 = 0; n0 < N; n0 += kBlockCols) {
    const int64_t nc = std::min(kBlockCols, N - n0);
    for (int64_t k0 = 0; k0 < K; k0 += kDepth) {
      const int64_t kc = std::min(kDepth, K - k0);
      pack_block(b, N, n0, nc, k0, kc, packed.data());
      multiply_block(M, N, alpha, A, lda, packed.data(), n0, nc, k0, kc, C, ldc);
    }
  }
}

// Offset of block (n0, k0) in a fully packed B: the n-blocks before n0 hold K * n0 elements (full
// blocks are whole panels), and within its n-block the k-blocks before k0 hold k0 * panels * P.
template <typename T>
int64_t block_offset(int64_t K, int64_t N, int64_t n0, int64_t k0) {
  constexpr int P = panel_width<T>();
  const int64_t nc = std::min(kBlockCols, N - n0);
  return K * n0 + k0 * ((nc + P - 1) / P) * P;
}

}  // namespace

void sgemm_acc(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
               const float* B, int64_t ldb, float* C, int64_t ldc) {
  gemm_acc<float>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

PackedB::PackedB(const float* B, int64_t K, int64_t N, int64_t ldb, bool transposed) : K_(K), N_(N) {
  constexpr int P = panel_width<float>();
  if (K <= 0 || N <= 0) return;
  // Every block's panels are P wide and kBlockCols is a multiple of P: K x (N rounded up to P).
  data_.resize(static_cast<size_t>(K * ((N + P - 1) / P * P)));
  const auto b = [&](int64_t k, int64_t c) { return transposed ? B[c * ldb + k] : B[k * ldb + c]; };
  const int64_t n_blocks = (N + kBlockCols - 1) / kBlockCols;
  const int64_t k_blocks = (K + kDepth - 1) / kDepth;
  parallel_for(0, n_blocks * k_blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t n0 = i / k_blocks * kBlockCols, k0 = i % k_blocks * kDepth;
      pack_block(b, N, n0, std::min(kBlockCols, N - n0), k0, std::min(kDepth, K - k0),
                 data_.data() + block_offset<float>(K, N, n0, k0));
    }
  });
}

void sgemm_acc(int64_t M, float alpha, const float* A, int64_t lda, const PackedB& B, float* C,
               int64_t ldc) {
  const int64_t K = B.K_, N = B.N_;
  if (M <= 0 || N <= 0 || K <= 0) return;
  for (int64_t n0 = 0; n0 < N; n0 += kBlockCols)
    for (int64_t k0 = 0; k0 < K; k0 += kDepth)
      multiply_block(M, N, alpha, A, lda, B.data_.data() + block_offset<float>(K, N, n0, k0), n0,
                     std::min(kBlockCols, N - n0), k0, std::min(kDepth, K - k0), C, ldc);
}

void dgemm_acc(int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
               const double* B, int64_t ldb, double* C, int64_t ldc) {
  gemm_acc<double>(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

}  // namespace qs
