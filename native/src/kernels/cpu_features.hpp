// The one CPU-feature probe of the library and the one way to choose a kernel family. Every kernel
// with instruction-set variants (the codebook mat-vec, the fp32/fp16 baselines, attention, the
// Hadamard transform, the codebook decode, the GEMM, BlockLDLQ's rank-8 update, the memory
// benchmark) asks kernel_for() which family to run:
//
//   QS_KERNEL_SCALAR  the portable reference (always available);
//   QS_KERNEL_AVX2    x86-64 AVX2 + FMA + F16C;
//   QS_KERNEL_AVX512  the AVX2 level plus AVX-512 F, DQ, BW, VL, VBMI, VNNI and GFNI.
//
// QS_KERNEL_AUTO resolves to the kernel forced by qs_cpu_force_kernel() if any, else to the widest
// level this CPU has, at most the cap of the environment variable QUIPSHARP_CPU_KERNEL (scalar,
// avx2, avx512 or auto; read once). A family without a variant at some level runs the widest variant
// it has below it (e.g. the fp16 mat-vec runs its AVX2 code on QS_KERNEL_AVX512).
#pragma once

#include <cstdint>

#include "quipsharp/quipsharp.h"

namespace qs {

// The instruction-set levels this CPU has (probed once).
struct CpuFeatures {
  bool avx2;    // AVX2, FMA, F16C
  bool avx512;  // avx2 and AVX-512 F, DQ, BW, VL, VBMI, VNNI, GFNI
};
const CpuFeatures& cpu_features();

// Whether `kernel` (QS_KERNEL_*) can run here; QS_KERNEL_AUTO and QS_KERNEL_SCALAR always can.
bool kernel_available(int32_t kernel);

// The cap of QUIPSHARP_CPU_KERNEL (QS_KERNEL_AVX512 when unset or "auto").
int32_t kernel_cap();

// The kernel a call asking for `kernel` runs: AUTO as described above; an explicit kernel itself.
// Throws QS_ERR_INVALID_ARGUMENT for an unknown id or one this CPU lacks.
int32_t resolve_kernel(int32_t kernel);

// resolve_kernel(QS_KERNEL_AUTO) without the checks, for the hot paths (an atomic load).
int32_t kernel_for_auto();

}  // namespace qs
