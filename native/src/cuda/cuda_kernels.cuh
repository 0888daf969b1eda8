// The CUDA engine's kernels (device code; the per-thread arithmetic is in kernel_logic.cuh, tested on
// the CPU), behind host launchers so that templates and kernels stay in one translation unit.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/kernel_logic.cuh"

namespace qs_cuda {

// ---- RHT (§2): one block per vector, the vector in shared memory -------------------------------

struct RhtArgs {
  const float* in = nullptr;  // vector v at in + v * in_ld; entries [0, in_count), zero beyond
  int64_t in_ld = 0, in_count = 0;
  int64_t n = 0, len = 1;  // transform length n = mb * len
  int mb = 1;
  const int8_t* G = nullptr;    // mb x mb base to apply (H^T forward, H inverse)
  const float* pre = nullptr;   // signs applied before the transform (n), or null
  const float* post = nullptr;  // per-entry factors after it (n), or null
  const float* in_scale = nullptr;  // per-vector factor after it, or null
  float norm = 1.0f;                // 1/sqrt(n) with the transform, else 1
  bool transform = true;            // false: signs, scales and padding only
  float* out_f32 = nullptr;         // fp32 out: [0, out_count) of each vector (stride out_ld)
  __half* out_f16 = nullptr;        // fp16 out: [0, n) scaled, zeros in [n, out_ld)
  int64_t out_ld = 0, out_count = 0;
  float* out_inv_scale = nullptr;   // fp16 out: 1 / the per-vector scale
  float* zero_in = nullptr;         // cleared after reading: zero_in + v * in_ld, zero_count entries
  int64_t zero_count = 0;
};

// Threads per RHT block for length n.
inline int rht_threads(int64_t n) {
  int64_t t = (n / 2 + 31) / 32 * 32;
  if (t < 32) t = 32;
  if (t > 1024) t = 1024;
  return static_cast<int>(t);
}
inline size_t rht_shared_bytes(int64_t n) { return static_cast<size_t>(n + 32) * sizeof(float); }

// Launches one block per vector; returns the launch status.
cudaError_t launch_rht_kernel(const RhtArgs& p, unsigned vectors, cudaStream_t stream);

// ---- A layer's codes on the device (chunk layout of kernel_logic.cuh) ----------------------------

struct LayerCodes {
  const uint64_t* w1 = nullptr;  // stage 1 E8P12 words, 2 per lane slot
  const uint64_t* w2 = nullptr;  // RVQ4 stage 2
  const uint32_t* e3 = nullptr;  // RVQ3 E81B words, 2 per lane slot
  const uint32_t* packed = nullptr;  // 256 packed-table words (§3.3)
  float inv_rho2 = 0.0f;
  int bits = 2;
  FusedShape s;
};

// ---- Fused decode + mat-vec (§7.2), up to 8 vectors per pass ------------------------------------

struct FusedArgs {
  LayerCodes c;
  const uint4* e81b_half = nullptr;  // 256 rows of 8 fp16 (§4.3)
  const __half* act = nullptr;       // nb vectors, stride act_ld (= cols_pad), zero padded
  int64_t act_ld = 0;
  float* z = nullptr;                // nb vectors, stride z_ld (= rows_pad); += W~ u
  int64_t z_ld = 0;
  int nb = 1;
  FusedGrid g;
};

inline size_t fused_shared_bytes(int bits, const FusedGrid& g) {
  return 256 * 32 * sizeof(uint32_t) + (bits == 3 ? 256 * 16 : 0) +
         static_cast<size_t>(g.group_tiles) * kTileRows * kMmaBatch * sizeof(float);
}

// One pass (p.nb <= 8 vectors) of the fused kernel for `bits` = 2, 3 or 4.
cudaError_t launch_fused_kernel(int bits, const FusedArgs& p, cudaStream_t stream);

// ---- Whole-matrix decode (for GEMM and checks) -------------------------------------------------

struct DecodeArgs {
  LayerCodes c;
  const float* e81b = nullptr;  // 256 x 8 fp32
  float* out_f32 = nullptr;  // rows x cols (the true code shape), row-major, or null
  __half* out_f16 = nullptr;  // rows_pad x cols_pad, row-major, or null
};

cudaError_t launch_decode_kernel(const DecodeArgs& p, cudaStream_t stream);

// ---- Tensor-core GEMM: Z (bt*16 x z_ld) = U (bt*16 x k, fp16) W^T (W: rt*16 x k, fp16) -------------

cudaError_t launch_gemm_kernel(const __half* U, const __half* W, float* Z, int64_t batch_tiles,
                               int64_t row_tiles, int64_t k, int64_t z_ld, cudaStream_t stream);

// Lets the RHT and fused kernels use up to `bytes` of dynamic shared memory on the current device.
cudaError_t allow_kernel_shared_memory(int bytes);

}  // namespace qs_cuda
