// The GEMM micro-kernels shared by the files of kernels/gemm: gemm_scalar.cpp (the portable
// reference) and gemm_avx2.cpp (AVX2 + FMA); gemm.cpp packs the blocks, picks the kernel and runs
// them. Both compute acc[r][c] = sum over k < depth of a[k * kRows + r] * panel[k * P + c] in the same
// order (results agree to rounding: the AVX2 one fuses the multiply-add).
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#define QS_X86 1
#endif

namespace qs {
namespace gemm {

constexpr int kRows = 6;         // rows of C per micro-kernel call
constexpr int64_t kDepth = 256;  // K block: a 6 x 256 strip of A stays in L1

// Columns of C per micro-kernel call: two 256-bit registers' worth (B is packed in panels this wide).
template <typename T>
constexpr int panel_width() {
  return static_cast<int>(64 / sizeof(T));
}

// One micro-kernel: R (1..kRows) rows of C over one panel.
template <typename T>
using Kernel = void (*)(int64_t depth, const T* a, const T* panel, T* acc);

// The kernel for `rows` rows (1..kRows) of each family.
template <typename T>
Kernel<T> scalar_kernel(int rows);
#ifdef QS_X86
template <typename T>
Kernel<T> avx2_kernel(int rows);
#endif

}  // namespace gemm
}  // namespace qs
