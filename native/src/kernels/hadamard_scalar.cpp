// The scalar reference of the fast Hadamard transform (see hadamard_kernels.hpp): the kernel source
// hadamard_transform.inc compiled for the compiler's baseline instruction set only (no target
// attribute). The AVX2 and AVX-512 builds must match it bit for bit.
#include <algorithm>
#include <vector>

#include "common/parallel.hpp"
#include "kernels/hadamard_kernels.hpp"

namespace qs {
namespace hadamard {
namespace {

#define QS_KERNEL_TARGET
#include "kernels/hadamard_transform.inc"
#undef QS_KERNEL_TARGET

}  // namespace

template <typename T>
void transform_rows_scalar(T* x, int64_t batch, int64_t n, bool transpose, const T* pre, const T* post) {
  transform_rows(x, batch, n, transpose, pre, post);
}

template <typename T>
void transform_cols_scalar(T* x, int64_t n, int64_t cols, bool transpose, const T* pre, const T* post) {
  transform_cols(x, n, cols, transpose, pre, post);
}

template void transform_rows_scalar<float>(float*, int64_t, int64_t, bool, const float*, const float*);
template void transform_rows_scalar<double>(double*, int64_t, int64_t, bool, const double*, const double*);
template void transform_cols_scalar<float>(float*, int64_t, int64_t, bool, const float*, const float*);
template void transform_cols_scalar<double>(double*, int64_t, int64_t, bool, const double*, const double*);

}  // namespace hadamard
}  // namespace qs
