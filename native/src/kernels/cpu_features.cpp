#include "kernels/cpu_features.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/status.hpp"

namespace qs {
namespace {

CpuFeatures probe() {
  CpuFeatures f{false, false};
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("f16c");
  f.avx512 = f.avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vnni") &&
             __builtin_cpu_supports("gfni");
#endif
  return f;
}

int32_t read_cap() {
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
}

int32_t widest_under_cap() {
  const int32_t cap = kernel_cap();
  if (cap >= QS_KERNEL_AVX512 && cpu_features().avx512) return QS_KERNEL_AVX512;
  if (cap >= QS_KERNEL_AVX2 && cpu_features().avx2) return QS_KERNEL_AVX2;
  return QS_KERNEL_SCALAR;
}

// What QS_KERNEL_AUTO runs now: the widest under the cap, or the kernel qs_cpu_force_kernel set.
std::atomic<int32_t>& auto_kernel() {
  static std::atomic<int32_t> k{widest_under_cap()};
  return k;
}

void require_known(int32_t kernel) {
  require(kernel == QS_KERNEL_AUTO || kernel == QS_KERNEL_SCALAR || kernel == QS_KERNEL_AVX2 ||
              kernel == QS_KERNEL_AVX512,
          "kernel = ", kernel, " must be 0 (auto), 1 (scalar), 2 (avx2) or 3 (avx512)");
  if (kernel == QS_KERNEL_AVX2 && !kernel_available(kernel))
    fail(QS_ERR_INVALID_ARGUMENT, "kernel = 2 (avx2: AVX2, FMA and F16C) is not available on this CPU");
  if (kernel == QS_KERNEL_AVX512 && !kernel_available(kernel))
    fail(QS_ERR_INVALID_ARGUMENT,
         "kernel = 3 (avx512: F, DQ, BW, VL, VBMI, VNNI and GFNI) is not available on this CPU");
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = probe();
  return f;
}

bool kernel_available(int32_t kernel) {
  switch (kernel) {
    case QS_KERNEL_AUTO:
    case QS_KERNEL_SCALAR: return true;
    case QS_KERNEL_AVX2: return cpu_features().avx2;
    case QS_KERNEL_AVX512: return cpu_features().avx512;
    default: return false;
  }
}

int32_t kernel_cap() {
  static const int32_t cap = read_cap();
  return cap;
}

int32_t kernel_for_auto() { return auto_kernel().load(std::memory_order_relaxed); }

int32_t resolve_kernel(int32_t kernel) {
  require_known(kernel);
  return kernel == QS_KERNEL_AUTO ? kernel_for_auto() : kernel;
}

}  // namespace qs

extern "C" int32_t qs_cpu_kernel_available(int32_t kernel) { return qs::kernel_available(kernel) ? 1 : 0; }

extern "C" int32_t qs_cpu_kernel_selected(void) { return qs::kernel_for_auto(); }

extern "C" int32_t qs_cpu_force_kernel(int32_t kernel) {
  return qs::guard([&] {
    qs::require_known(kernel);
    qs::auto_kernel().store(kernel == QS_KERNEL_AUTO ? qs::widest_under_cap() : kernel);
  });
}
