// The AVX2 + FMA GEMM micro-kernel (see gemm_kernels.hpp).
#include "kernels/gemm_kernels.hpp"

#ifdef QS_X86
#include <immintrin.h>

namespace qs {
namespace gemm {
namespace {

// The AVX2 intrinsics of one element type: 8 float or 4 double lanes per register.
#define QS_AVX2 __attribute__((target("avx2,fma"), always_inline))
template <typename T>
struct Avx2Lanes;
template <>
struct Avx2Lanes<float> {
  using V = __m256;
  QS_AVX2 static V zero() { return _mm256_setzero_ps(); }
  QS_AVX2 static V load(const float* p) { return _mm256_loadu_ps(p); }
  QS_AVX2 static V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  QS_AVX2 static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  QS_AVX2 static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
};
template <>
struct Avx2Lanes<double> {
  using V = __m256d;
  QS_AVX2 static V zero() { return _mm256_setzero_pd(); }
  QS_AVX2 static V load(const double* p) { return _mm256_loadu_pd(p); }
  QS_AVX2 static V broadcast(const double* p) { return _mm256_broadcast_sd(p); }
  QS_AVX2 static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  QS_AVX2 static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
};
#undef QS_AVX2

// The AVX2 kernel keeps its 2 * R accumulators in named variables: with arrays of vectors GCC
// stored every accumulator to the stack on every k step, which halved the kernel's speed.
template <typename T, int R>
__attribute__((target("avx2,fma"))) void kernel_avx2(int64_t depth, const T* a, const T* panel, T* acc) {
  using L = Avx2Lanes<T>;
  constexpr int P = panel_width<T>(), H = P / 2;  // a panel row is two registers
#define QS_GEMM_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define QS_ZERO(r) typename L::V c##r##0 = L::zero(), c##r##1 = c##r##0;
  QS_GEMM_ROWS(QS_ZERO)
  for (int64_t k = 0; k < depth; ++k) {
    const typename L::V b0 = L::load(panel + k * P), b1 = L::load(panel + k * P + H);
#define QS_STEP(r)                                           \
  if constexpr (r < R) {                                     \
    const typename L::V av = L::broadcast(a + k * kRows + r); \
    c##r##0 = L::fmadd(av, b0, c##r##0);                     \
    c##r##1 = L::fmadd(av, b1, c##r##1);                     \
  }
    QS_GEMM_ROWS(QS_STEP)
  }
#define QS_STORE(r)                     \
  if constexpr (r < R) {                \
    L::store(acc + r * P, c##r##0);     \
    L::store(acc + r * P + H, c##r##1); \
  }
  QS_GEMM_ROWS(QS_STORE)
#undef QS_STORE
#undef QS_STEP
#undef QS_ZERO
#undef QS_GEMM_ROWS
}

}  // namespace

template <typename T>
Kernel<T> avx2_kernel(int rows) {
  switch (rows) {
    case 1: return &kernel_avx2<T, 1>;
    case 2: return &kernel_avx2<T, 2>;
    case 3: return &kernel_avx2<T, 3>;
    case 4: return &kernel_avx2<T, 4>;
    case 5: return &kernel_avx2<T, 5>;
    default: return &kernel_avx2<T, 6>;
  }
}

template Kernel<float> avx2_kernel<float>(int rows);
template Kernel<double> avx2_kernel<double>(int rows);

}  // namespace gemm
}  // namespace qs
#endif  // QS_X86
