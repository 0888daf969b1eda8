// QUIPSHARP_CPU_KERNEL caps what QS_KERNEL_AUTO runs. ctest runs this with QUIPSHARP_CPU_KERNEL=avx2
// (see CMakeLists.txt); without the variable it checks that AUTO is the widest kernel available.
// Also qs_cpu_force_kernel, the one way to force a kernel family.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "check.hpp"

int main() {
  const char* env = std::getenv("QUIPSHARP_CPU_KERNEL");
  const int32_t widest = qs_cpu_kernel_available(QS_KERNEL_AVX512) ? QS_KERNEL_AVX512
                         : qs_cpu_kernel_available(QS_KERNEL_AVX2) ? QS_KERNEL_AVX2
                                                                     : QS_KERNEL_SCALAR;
  int32_t expected = widest;
  if (env != nullptr && std::strcmp(env, "avx2") == 0)
    expected = widest == QS_KERNEL_SCALAR ? QS_KERNEL_SCALAR : QS_KERNEL_AVX2;
  if (env != nullptr && std::strcmp(env, "scalar") == 0) expected = QS_KERNEL_SCALAR;
  std::printf("QUIPSHARP_CPU_KERNEL=%s: AUTO runs kernel %d (expected %d)\n", env ? env : "(unset)",
              qs_cpu_kernel_selected(), expected);
  CHECK(qs_cpu_kernel_selected() == expected);
  // An explicit kernel is not capped: the variable only limits AUTO.
  std::vector<uint16_t> codes(8, 0x1234);
  std::vector<float> u(64, 1.0f), z(1), z_auto(1);
  CHECK_OK(qs_e8p_matvec(codes.data(), 1, 64, u.data(), z_auto.data(), QS_KERNEL_AUTO));
  CHECK_OK(qs_e8p_matvec(codes.data(), 1, 64, u.data(), z.data(), widest));
  CHECK(z[0] == z_auto[0]);
  // qs_cpu_force_kernel is the one switch of every family: AUTO then runs the forced kernel (the
  // codebook kernels give the same bits), QS_KERNEL_AUTO restores the capped default, and a kernel
  // this CPU lacks or an unknown id is refused without changing anything.
  CHECK_OK(qs_cpu_force_kernel(QS_KERNEL_SCALAR));
  CHECK(qs_cpu_kernel_selected() == QS_KERNEL_SCALAR);
  std::vector<float> z_forced(1);
  CHECK_OK(qs_e8p_matvec(codes.data(), 1, 64, u.data(), z_forced.data(), QS_KERNEL_AUTO));
  CHECK(z_forced[0] == z_auto[0]);
  CHECK_STATUS(qs_cpu_force_kernel(9), QS_ERR_INVALID_ARGUMENT);
  CHECK(qs_cpu_kernel_selected() == QS_KERNEL_SCALAR);
  if (!qs_cpu_kernel_available(QS_KERNEL_AVX512)) {
    CHECK_STATUS(qs_cpu_force_kernel(QS_KERNEL_AVX512), QS_ERR_INVALID_ARGUMENT);
  } else {
    CHECK_OK(qs_cpu_force_kernel(QS_KERNEL_AVX512));  // forcing may exceed the cap
    CHECK(qs_cpu_kernel_selected() == QS_KERNEL_AVX512);
  }
  CHECK_OK(qs_cpu_force_kernel(QS_KERNEL_AUTO));
  CHECK(qs_cpu_kernel_selected() == expected);
  TEST_MAIN_END();
}
