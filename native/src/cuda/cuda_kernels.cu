// Kernels of the CUDA engine. The arithmetic each thread does lives in kernel_logic.cuh (checked on
// the CPU by test_cuda_kernel_logic); this file adds the memory traffic, the barriers and the mma.
#include <mma.h>

#include "cuda/cuda_kernels.cuh"

namespace qs_cuda {

namespace {

__device__ __forceinline__ uint32_t hsub2_bits(uint32_t a, uint32_t b) {
  uint32_t d;
  asm("sub.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
  return d;
}

// D = A B + D, m16n8k16, fp16 in, fp32 accumulate (fragment layout: kernel_logic.cuh and the CPU
// emulation in test_cuda_kernel_logic.cpp).
__device__ __forceinline__ void mma16816(float* c, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                         uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Codes a (row g) and b (row g + 8) of one code column into the A fragments of two mmas, with the
// activations' B fragments (4 pairs).
__device__ __forceinline__ void mma_code_pair(float* c, const uint32_t* h0, const uint32_t* h1,
                                              const uint32_t* bf) {
  mma16816(c, h0[0], h1[0], h0[1], h1[1], bf[0], bf[1]);
  mma16816(c, h0[2], h1[2], h0[3], h1[3], bf[2], bf[3]);
}

__device__ __forceinline__ void decode_e8p_codes(const uint32_t* my_packed, uint32_t lo, uint32_t hi,
                                                 int q, uint32_t* h) {
  e8p_half_pairs(my_packed[word_row_index(lo, q) * 32], hi, q, h);
#pragma unroll
  for (int i = 0; i < 4; ++i) h[i] = hsub2_bits(h[i], kHalfOffset);
}

__device__ __forceinline__ float block_max(float v, float* scratch) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? scratch[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
    if (lane == 0) scratch[0] = v;
  }
  __syncthreads();
  return scratch[0];
}

}  // namespace

namespace {

__global__ void rht_kernel(RhtArgs p) {
  extern __shared__ float sh[];
  float* scratch = sh + p.n;
  const int64_t v = blockIdx.x;
  const int tid = threadIdx.x, threads = blockDim.x;
  const float* in = p.in + v * p.in_ld;
  const int mb = p.transform ? p.mb : 1;
  for (int64_t i = tid; i < p.n; i += threads)
    sh[i] = rht_base_element(i, p.len, mb, p.G, in, p.in_count, p.pre);
  __syncthreads();
  if (p.zero_in != nullptr)
    for (int64_t i = tid; i < p.zero_count; i += threads) p.zero_in[v * p.in_ld + i] = 0.0f;
  if (p.transform) {
    for (int64_t h = 1; h < p.len; h *= 2) {
      for (int64_t q = tid; q < p.n / 2; q += threads) {
        int64_t i, j;
        fwht_pair(q, h, p.len, &i, &j);
        const float a = sh[i], b = sh[j];
        sh[i] = a + b;
        sh[j] = a - b;
      }
      __syncthreads();
    }
  }
  const float scale = p.norm * (p.in_scale != nullptr ? p.in_scale[v] : 1.0f);
  if (p.out_f16 != nullptr) {
    float mx = 0.0f;
    for (int64_t i = tid; i < p.n; i += threads) {
      const float y = sh[i] * scale * (p.post != nullptr ? p.post[i] : 1.0f);
      sh[i] = y;
      mx = fmaxf(mx, fabsf(y));
    }
    const float s = fp16_scale_for(block_max(mx, scratch));
    __half* out = p.out_f16 + v * p.out_ld;
    for (int64_t i = tid; i < p.out_ld; i += threads)
      out[i] = i < p.n ? __float2half_rn(sh[i] * s) : __float2half_rn(0.0f);
    if (tid == 0) p.out_inv_scale[v] = 1.0f / s;
  } else {
    float* out = p.out_f32 + v * p.out_ld;
    for (int64_t i = tid; i < p.out_count; i += threads)
      out[i] = sh[i] * scale * (p.post != nullptr ? p.post[i] : 1.0f);
  }
}

template <int BITS>
__global__ void __launch_bounds__(kWarpsPerBlock * 32) fused_kernel(FusedArgs p) {
  extern __shared__ __align__(16) unsigned char smem[];
  uint32_t* s_packed = reinterpret_cast<uint32_t*>(smem);  // [256][32]: one copy per lane (no bank conflicts)
  uint4* s_e81b = reinterpret_cast<uint4*>(smem + 256 * 32 * 4);
  float* s_acc = reinterpret_cast<float*>(smem + 256 * 32 * 4 + (BITS == 3 ? 256 * 16 : 0));
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (int i = tid; i < 256 * 32; i += blockDim.x) s_packed[i] = p.c.packed[i >> 5];
  if (BITS == 3)
    for (int i = tid; i < 256; i += blockDim.x) s_e81b[i] = p.e81b_half[i];
  const int acc_count = static_cast<int>(p.g.group_tiles) * kTileRows * kMmaBatch;
  for (int i = tid; i < acc_count; i += blockDim.x) s_acc[i] = 0.0f;
  __syncthreads();

  int64_t cp, rt0, rt1;
  fused_work(p.c.s, p.g, blockIdx.x, warp, &cp, &rt0, &rt1);
  if (cp < p.c.s.col_chunks) {
    const uint4* w1p = reinterpret_cast<const uint4*>(p.c.w1);
    const uint4* w2p = reinterpret_cast<const uint4*>(p.c.w2);
    const uint2* e3p = reinterpret_cast<const uint2*>(p.c.e3);
    const int g = lane >> 2;
    // B fragments: 8 activations per (tile j, code column parity b), kept for the whole walk.
    uint32_t bf[2][2][4];
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
      for (int b = 0; b < 2; ++b) {
        uint4 v = make_uint4(0, 0, 0, 0);
        if (g < p.nb) v = *reinterpret_cast<const uint4*>(p.act + g * p.act_ld + act_col(cp, j, lane, b));
        bf[j][b][0] = v.x;
        bf[j][b][1] = v.y;
        bf[j][b][2] = v.z;
        bf[j][b][3] = v.w;
      }
    const uint32_t* my_packed = s_packed + lane;
    for (int64_t rt = rt0; rt < rt1; rt += kRowTilesPerStep) {
      uint4 w[kRowTilesPerStep], w2[kRowTilesPerStep];
      uint2 e3[kRowTilesPerStep];
#pragma unroll
      for (int u = 0; u < kRowTilesPerStep; ++u) {
        if (rt + u < rt1) {
          const int64_t slot = chunk_slot(p.c.s, cp, rt + u, lane);
          w[u] = __ldcs(w1p + slot);
          if (BITS == 4) w2[u] = __ldcs(w2p + slot);
          if (BITS == 3) e3[u] = __ldcs(e3p + slot);
        }
      }
#pragma unroll
      for (int u = 0; u < kRowTilesPerStep; ++u) {
        if (rt + u < rt1) {
          float c[4] = {0.0f, 0.0f, 0.0f, 0.0f}, c2[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            const uint32_t lo = j ? w[u].z : w[u].x, hi = j ? w[u].w : w[u].y;
#pragma unroll
            for (int b = 0; b < 2; ++b) {
              uint32_t h0[4], h1[4];
              decode_e8p_codes(my_packed, lo, hi, 2 * b, h0);
              decode_e8p_codes(my_packed, lo, hi, 2 * b + 1, h1);
              mma_code_pair(c, h0, h1, bf[j][b]);
              if (BITS == 4) {
                const uint32_t lo2 = j ? w2[u].z : w2[u].x, hi2 = j ? w2[u].w : w2[u].y;
                decode_e8p_codes(my_packed, lo2, hi2, 2 * b, h0);
                decode_e8p_codes(my_packed, lo2, hi2, 2 * b + 1, h1);
                mma_code_pair(c2, h0, h1, bf[j][b]);
              }
              if (BITS == 3) {
                const uint32_t ew = j ? e3[u].y : e3[u].x;
                const uint4 r0 = s_e81b[(ew >> (16 * b)) & 0xFFu];
                const uint4 r1 = s_e81b[(ew >> (16 * b + 8)) & 0xFFu];
                const uint32_t e0[4] = {r0.x, r0.y, r0.z, r0.w}, e1[4] = {r1.x, r1.y, r1.z, r1.w};
                mma_code_pair(c2, e0, e1, bf[j][b]);
              }
            }
          }
          const int64_t local0 = (rt + u - rt0) * kTileRows;
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const int bcol = acc_batch(lane, k);
            if (bcol < p.nb)
              atomicAdd(&s_acc[(local0 + acc_row(lane, k)) * kMmaBatch + bcol], c[k] + p.c.inv_rho2 * c2[k]);
          }
        }
      }
    }
  }
  __syncthreads();
  const int64_t rows_here = (rt1 - rt0) * kTileRows;
  for (int64_t i = tid; i < rows_here * p.nb; i += blockDim.x) {
    const int64_t local = i / p.nb;
    const int bcol = static_cast<int>(i % p.nb);
    atomicAdd(&p.z[bcol * p.z_ld + rt0 * kTileRows + local], s_acc[local * kMmaBatch + bcol]);
  }
}


__global__ void decode_kernel(DecodeArgs p) {
  const int64_t words = 2 * 32 * p.c.s.row_tiles * p.c.s.col_chunks;
  const FusedShape& sh = p.c.s;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < words;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int j = static_cast<int>(idx & 1);
    const int64_t slot = idx >> 1;
    const int lane = static_cast<int>(slot & 31);
    const int64_t chunk = slot >> 5;
    const int64_t rt = chunk % sh.row_tiles, cp = chunk / sh.row_tiles;
    const uint64_t word = p.c.w1[idx];
    const uint64_t word2 = p.c.bits == 4 ? p.c.w2[idx] : 0;
    const uint32_t ew = p.c.bits == 3 ? p.c.e3[idx] : 0;
    for (int q = 0; q < 4; ++q) {
      const int64_t row = rt * kTileRows + word_row(lane, q);
      const int64_t col = (2 * cp + j) * kTileCols + 8 * word_code_col(lane, q);
      uint32_t h[4], h2[4];
      e8p_half_pairs(p.c.packed[word_row_index(static_cast<uint32_t>(word), q)],
                     static_cast<uint32_t>(word >> 32), q, h);
      if (p.c.bits == 4)
        e8p_half_pairs(p.c.packed[word_row_index(static_cast<uint32_t>(word2), q)],
                       static_cast<uint32_t>(word2 >> 32), q, h2);
      float vals[8];
      for (int i = 0; i < 4; ++i) {
        const __half2 pr = *reinterpret_cast<const __half2*>(&h[i]);
        vals[2 * i] = __low2float(pr) - kHalfOffsetF;
        vals[2 * i + 1] = __high2float(pr) - kHalfOffsetF;
        if (p.c.bits == 4) {
          const __half2 pr2 = *reinterpret_cast<const __half2*>(&h2[i]);
          vals[2 * i] += (__low2float(pr2) - kHalfOffsetF) * p.c.inv_rho2;
          vals[2 * i + 1] += (__high2float(pr2) - kHalfOffsetF) * p.c.inv_rho2;
        }
      }
      if (p.c.bits == 3) {
        const float* e = p.e81b + 8 * ((ew >> (8 * q)) & 0xFFu);
        for (int i = 0; i < 8; ++i) vals[i] += e[i] * p.c.inv_rho2;
      }
      if (p.out_f32 != nullptr && row < sh.rows && col < sh.cols)
        for (int i = 0; i < 8; ++i) p.out_f32[row * sh.cols + col + i] = vals[i];
      if (p.out_f16 != nullptr)
        for (int i = 0; i < 8; ++i) p.out_f16[row * sh.cols_pad + col + i] = __float2half_rn(vals[i]);
    }
  }
}

__global__ void gemm_kernel(const __half* U, const __half* W, float* Z, int64_t batch_tiles,
                            int64_t row_tiles, int64_t k, int64_t z_ld) {
  using namespace nvcuda;
  const int64_t warp_id = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  if (warp_id >= batch_tiles * row_tiles) return;  // whole warps exit together
  const int64_t bt = warp_id / row_tiles, rt = warp_id % row_tiles;
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::fill_fragment(c, 0.0f);
  const __half* ua = U + bt * 16 * k;
  const __half* wb = W + rt * 16 * k;
  for (int64_t kk = 0; kk < k; kk += 16) {
    wmma::load_matrix_sync(a, ua + kk, static_cast<unsigned>(k));
    wmma::load_matrix_sync(b, wb + kk, static_cast<unsigned>(k));
    wmma::mma_sync(c, a, b, c);
  }
  wmma::store_matrix_sync(Z + bt * 16 * z_ld + rt * 16, c, static_cast<unsigned>(z_ld), wmma::mem_row_major);
}

}  // namespace

cudaError_t launch_rht_kernel(const RhtArgs& p, unsigned vectors, cudaStream_t stream) {
  rht_kernel<<<vectors, rht_threads(p.n), rht_shared_bytes(p.n), stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_fused_kernel(int bits, const FusedArgs& p, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(p.g.blocks());
  const size_t smem = fused_shared_bytes(bits, p.g);
  if (bits == 2) fused_kernel<2><<<blocks, kWarpsPerBlock * 32, smem, stream>>>(p);
  else if (bits == 3) fused_kernel<3><<<blocks, kWarpsPerBlock * 32, smem, stream>>>(p);
  else fused_kernel<4><<<blocks, kWarpsPerBlock * 32, smem, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_decode_kernel(const DecodeArgs& p, cudaStream_t stream) {
  const int64_t words = 2 * 32 * p.c.s.row_tiles * p.c.s.col_chunks;
  const int64_t blocks = (words + 255) / 256 < 65535 ? (words + 255) / 256 : 65535;
  decode_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t launch_gemm_kernel(const __half* U, const __half* W, float* Z, int64_t batch_tiles,
                               int64_t row_tiles, int64_t k, int64_t z_ld, cudaStream_t stream) {
  const int64_t blocks = (batch_tiles * row_tiles + 7) / 8;
  gemm_kernel<<<static_cast<unsigned>(blocks), 256, 0, stream>>>(U, W, Z, batch_tiles, row_tiles, k, z_ld);
  return cudaGetLastError();
}

cudaError_t allow_kernel_shared_memory(int bytes) {
  cudaError_t e = cudaFuncSetAttribute(rht_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) e = cudaFuncSetAttribute(fused_kernel<2>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) e = cudaFuncSetAttribute(fused_kernel<3>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess) e = cudaFuncSetAttribute(fused_kernel<4>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  return e;
}

}  // namespace qs_cuda
