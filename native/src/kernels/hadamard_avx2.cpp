// The AVX2 build of the fast Hadamard transform (see hadamard_kernels.hpp): the kernel source
// hadamard_transform.inc with every kernel function compiled for AVX2 (no FMA: the products and sums
// stay separate roundings, as in the scalar reference).
#include "kernels/hadamard_kernels.hpp"

#ifdef QS_X86
#include <algorithm>
#include <vector>

#include "common/parallel.hpp"

namespace qs {
namespace hadamard {
namespace {

#define QS_KERNEL_TARGET __attribute__((target("avx2")))
#include "kernels/hadamard_transform.inc"
#undef QS_KERNEL_TARGET

}  // namespace

template <typename T>
void transform_rows_avx2(T* x, int64_t batch, int64_t n, bool transpose, const T* pre, const T* post) {
  transform_rows(x, batch, n, transpose, pre, post);
}

template <typename T>
void transform_cols_avx2(T* x, int64_t n, int64_t cols, bool transpose, const T* pre, const T* post) {
  transform_cols(x, n, cols, transpose, pre, post);
}

template void transform_rows_avx2<float>(float*, int64_t, int64_t, bool, const float*, const float*);
template void transform_rows_avx2<double>(double*, int64_t, int64_t, bool, const double*, const double*);
template void transform_cols_avx2<float>(float*, int64_t, int64_t, bool, const float*, const float*);
template void transform_cols_avx2<double>(double*, int64_t, int64_t, bool, const double*, const double*);

}  // namespace hadamard
}  // namespace qs
#endif  // QS_X86
