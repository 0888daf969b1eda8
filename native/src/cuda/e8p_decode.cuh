// E8P12 decode of one code (§3.4) from the nibble words of §3.3, written once for the host and the
// device: the CPU test compiles it as host code and compares it with the CPU reference, the kernels
// call it on the GPU. Slot p of the packed word holds nu = 2 B + 8 for coordinate kSlotCoord[p];
// e = sign byte with bit 0 XOR its parity; each nibble nu' = nu ^ (14 e_p + parity) gives
// 4 * codeword = 2 nu' - 15 (§7.3's fp16 trick in integers).
#pragma once

#include <cstdint>

#ifdef __CUDACC__
#define QS_HD __host__ __device__ __forceinline__
#else
#define QS_HD inline
#endif

namespace qs_cuda {

QS_HD uint32_t parity8(uint32_t v) {
  v ^= v >> 4;
  v ^= v >> 2;
  v ^= v >> 1;
  return v & 1u;
}

// out[0..7] = the 8 coordinates of `code`; packed = the 256 nibble words.
QS_HD void e8p_decode_code(uint32_t code, const uint32_t* packed, float* out) {
  const uint32_t word = packed[(code >> 8) & 0xFFu];
  const uint32_t r = code & 0xFFu;
  const uint32_t par = parity8(r);
  const uint32_t e = r ^ par;
  // Slot p -> coordinate: slots 0..3 hold the even coordinates, 4..7 the odd ones (§3.3).
  for (int p = 0; p < 8; ++p) {
    const uint32_t nu = ((word >> (4 * p)) & 0xFu) ^ (((e >> p) & 1u) * 14u + par);
    const int coord = p < 4 ? 2 * p : 2 * (p - 4) + 1;
    out[coord] = (2.0f * static_cast<float>(nu) - 15.0f) * 0.25f;
  }
}

}  // namespace qs_cuda
