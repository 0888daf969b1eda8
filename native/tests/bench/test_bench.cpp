// libquipsharp_bench: bad arguments are refused with a status and a message (through the engine's
// qs_last_error()), before anything is allocated or timed; a tiny run reports sane figures. Speed
// is never asserted.
#include <string>

#include "check.hpp"
#include "quipsharp/quipsharp_bench.h"

int main() {
  qs_matvec_bench result;
  // The size product would overflow: rejected up front.
  CHECK_STATUS(qs_bench_matvec(32, 2147483647, 2147483647, 1, 0, 0.01, 1, &result),
               QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("rows x cols") != std::string::npos);
  CHECK_STATUS(qs_bench_matvec(5, 64, 64, 1, 0, 0.01, 1, &result), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("bits = 5") != std::string::npos);
  CHECK_STATUS(qs_bench_matvec(2, 64, 64, 1, 0, 0.01, 1, nullptr), QS_ERR_INVALID_ARGUMENT);
  qs_memory_bench memory;
  CHECK_STATUS(qs_bench_memory(1024, 0.01, &memory), QS_ERR_INVALID_ARGUMENT);
  CHECK(qs_cache_l3_bytes() > 0);
  CHECK_OK(qs_bench_matvec(2, 64, 64, 2, QS_KERNEL_AUTO, 0.01, 1, &result));
  CHECK(result.calls > 0 && result.seconds_per_call > 0 && result.layers == 2);
  CHECK(result.weight_bytes_per_layer == 64 * 64 / 8 * 2);
  TEST_MAIN_END();
}
