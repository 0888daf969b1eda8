// The E8P12 decode that the CUDA kernels run (native/src/cuda/e8p_decode.cuh, host + device code),
// executed here on the CPU against the reference decoder for all 65536 codes: the GPU kernel's
// arithmetic is checked even on machines without a GPU.
#include <cstdio>
#include <cstring>
#include <vector>

#include "check.hpp"
#include "cuda/e8p_decode.cuh"

int main() {
  std::vector<int32_t> packed(256);
  CHECK_OK(qs_e8p_packed_table(packed.data()));
  std::vector<uint32_t> words(packed.begin(), packed.end());
  std::vector<uint16_t> codes(65536);
  for (int c = 0; c < 65536; ++c) codes[c] = static_cast<uint16_t>(c);
  std::vector<float> ref(65536 * 8), got(65536 * 8);
  CHECK_OK(qs_e8p_decode(codes.data(), 65536, ref.data()));
  for (int c = 0; c < 65536; ++c) qs_cuda::e8p_decode_code(codes[c], words.data(), &got[c * 8]);
  int bad = 0;
  for (int i = 0; i < 65536 * 8; ++i)
    if (got[i] != ref[i]) {
      if (bad++ < 5) std::fprintf(stderr, "code %d coord %d: %g vs %g\n", i / 8, i % 8, got[i], ref[i]);
    }
  CHECK(bad == 0);
  TEST_MAIN_END();
}
