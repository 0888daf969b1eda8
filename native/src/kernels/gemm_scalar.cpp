// The portable GEMM micro-kernel, the reference (see gemm_kernels.hpp).
#include "kernels/gemm_kernels.hpp"

namespace qs {
namespace gemm {
namespace {

// acc[r][c] = sum over k < depth of a[k*kRows + r] * panel[k*P + c]  (A strip packed k-major)
template <typename T, int R>
void kernel_portable(int64_t depth, const T* a, const T* panel, T* acc) {
  constexpr int P = panel_width<T>();
  for (int i = 0; i < R * P; ++i) acc[i] = T(0);
  for (int64_t k = 0; k < depth; ++k) {
    const T* b = panel + k * P;
    for (int r = 0; r < R; ++r) {
      const T av = a[k * kRows + r];
      for (int c = 0; c < P; ++c) acc[r * P + c] += av * b[c];
    }
  }
}

}  // namespace

template <typename T>
Kernel<T> scalar_kernel(int rows) {
  switch (rows) {
    case 1: return &kernel_portable<T, 1>;
    case 2: return &kernel_portable<T, 2>;
    case 3: return &kernel_portable<T, 3>;
    case 4: return &kernel_portable<T, 4>;
    case 5: return &kernel_portable<T, 5>;
    default: return &kernel_portable<T, 6>;
  }
}

template Kernel<float> scalar_kernel<float>(int rows);
template Kernel<double> scalar_kernel<double>(int rows);

}  // namespace gemm
}  // namespace qs
