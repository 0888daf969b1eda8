// The widest instruction set QS_KERNEL_AUTO may pick, from the environment variable
// QUIPSHARP_CPU_KERNEL (scalar, avx2, avx512 or auto; read once). It lets one machine run what a
// narrower CPU would, for benchmarks and for fleets that must give the same speed everywhere. The
// codebook and Hadamard kernels give the same bits on every kernel; the fp16/fp32 mat-vec and the
// attention kernels differ from their scalar (double) reference by float rounding.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "quipsharp/quipsharp.h"

namespace qs {

inline int32_t cpu_kernel_cap() {
  static const int32_t cap = [] {
    const char* env = std::getenv("QUIPSHARP_CPU_KERNEL");
    if (env == nullptr || *env == '\0' || std::strcmp(env, "auto") == 0) return QS_KERNEL_AVX512;
    if (std::strcmp(env, "scalar") == 0) return QS_KERNEL_SCALAR;
    if (std::strcmp(env, "avx2") == 0) return QS_KERNEL_AVX2;
    if (std::strcmp(env, "avx512") == 0) return QS_KERNEL_AVX512;
    std::fprintf(stderr,
                 "quipsharp: QUIPSHARP_CPU_KERNEL=%s is not one of auto, scalar, avx2, avx512; "
                 "using auto\n",
                 env);
    return QS_KERNEL_AVX512;
  }();
  return cap;
}

// The widest of AVX-512, AVX2, scalar that `available(kernel)` allows, at most cpu_kernel_cap().
template <typename Available>
int32_t widest_kernel(Available available) {
  const int32_t cap = cpu_kernel_cap();
  if (cap >= QS_KERNEL_AVX512 && available(QS_KERNEL_AVX512)) return QS_KERNEL_AVX512;
  if (cap >= QS_KERNEL_AVX2 && available(QS_KERNEL_AVX2)) return QS_KERNEL_AVX2;
  return QS_KERNEL_SCALAR;
}

}  // namespace qs
