// The CUDA engine against the CPU reference. Exits 77 (ctest: skipped) when there is no driver or
// no device, after checking that the entry points say so instead of failing.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"
#include "quipsharp/quipsharp_cuda.h"

int main() {
  int32_t n = -1;
  CHECK_OK(qs_cuda_device_count(&n));
  CHECK_STATUS(qs_cuda_device_count(nullptr), QS_ERR_INVALID_ARGUMENT);
  if (n == 0) {
    qs_cuda_device d;
    CHECK_STATUS(qs_cuda_device_info(0, &d), QS_ERR_NO_CUDA_DEVICE);
    uint16_t code = 0;
    float out[8];
    CHECK_STATUS(qs_cuda_e8p_decode(0, &code, 1, out), QS_ERR_NO_CUDA_DEVICE);
    std::printf("skipped: no CUDA device (%s)\n", qs_cuda_last_error());
    return qs_test::failures() == 0 ? 77 : 1;
  }
  for (int32_t i = 0; i < n; ++i) {
    qs_cuda_device d;
    CHECK_OK(qs_cuda_device_info(i, &d));
    std::printf("device %d: %s, %.1f GiB, %d SMs, sm_%d%d, peak %.0f GB/s\n", i, d.name,
                d.total_bytes / 1073741824.0, d.sm_count, d.cc_major, d.cc_minor, d.peak_gbytes_per_s);
    CHECK(std::strlen(d.name) > 0 && d.total_bytes > 0 && d.peak_gbytes_per_s > 0);
  }
  qs_cuda_device d;
  CHECK_STATUS(qs_cuda_device_info(n, &d), QS_ERR_INVALID_ARGUMENT);
  // Decode: every code, plus an odd count, against the CPU reference, bit for bit.
  for (int64_t count : {int64_t(65536), int64_t(1), int64_t(1000003)}) {
    std::vector<uint16_t> codes(count);
    qs_test::Rng rng(static_cast<uint64_t>(count));
    for (int64_t i = 0; i < count; ++i) codes[i] = count == 65536 ? uint16_t(i) : uint16_t(rng.next());
    std::vector<float> ref(count * 8), got(count * 8);
    CHECK_OK(qs_e8p_decode(codes.data(), count, ref.data()));
    CHECK_OK(qs_cuda_e8p_decode(0, codes.data(), count, got.data()));
    CHECK(std::memcmp(ref.data(), got.data(), ref.size() * 4) == 0);
  }
  CHECK_STATUS(qs_cuda_e8p_decode(0, nullptr, -1, nullptr), QS_ERR_INVALID_ARGUMENT);
  TEST_MAIN_END();
}
