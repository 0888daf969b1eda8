// Per-thread arithmetic of the CUDA kernels, written once for the host and the device: the kernels
// call these functions on the GPU, and native/tests/test_cuda_kernel_logic.cpp runs the same code on
// the CPU against the reference (§2, §3.4, §4, §8.4), so the index arithmetic and the decode are
// checked on machines without a GPU.
//
// Device layout of a layer's codes ("chunks"): the §8.4 words of one 16-row x 128-column block (two
// adjacent §8.4 tiles, j = 0, 1) stored lane by lane: lane L holds word L of tile 0 and word L of
// tile 1 as one 16-byte value, so that a warp reads 512 contiguous bytes with one 16-byte load per
// lane. Chunks are ordered column-chunk-major (cp * row_tiles + rt), so a warp that walks down the
// rows of one column chunk streams through contiguous memory. Word L of a tile covers tile rows
// 2(L>>2) + a and code columns 2(L&3) + b (a, b in {0, 1}; code q = a + 2b of the word, §8.4).
//
// Fused mat-vec (§7.2): a warp holds the activations of its column chunk in registers and walks
// down row tiles; per word it decodes 4 codes into the A fragments of four mma.m16n8k16 (fp16 in,
// fp32 accumulate). The mma's k index is permuted (lane (g, t) supplies the 8 columns of its own
// code), which needs no shuffles: the B fragment of lane (g, t) is the activations of batch vector
// g at exactly the columns of its own codes. MMA row g is tile row 2g, row g + 8 is tile row 2g + 1.
#pragma once

#include <cstdint>

#include "cuda/e8p_decode.cuh"  // QS_HD

namespace qs_cuda {

constexpr int kTileRows = 16;        // §8.4 tile: 16 rows x 64 columns = 32 words
constexpr int kTileCols = 64;
constexpr int kChunkCols = 128;      // two tiles side by side
constexpr int kWarpsPerBlock = 8;    // fused kernel: one column chunk per warp
constexpr int kRowTilesPerStep = 4;  // loads in flight per warp
constexpr int kMaxGroupTiles = 32;   // row tiles per block (bounds the block's shared accumulators)
constexpr int kMmaBatch = 8;         // vectors per pass of the fused kernel (the mma's n)
constexpr uint32_t kHalfBase = 0x50005000u;  // fp16 32.0 in both halves (§7.3)
constexpr uint32_t kHalfOffset = 0x50785078u;  // fp16 35.75: codeword = (32 + nu'/2) - 35.75
constexpr float kHalfOffsetF = 35.75f;

QS_HD uint32_t popcount32(uint32_t v) {
#ifdef __CUDA_ARCH__
  return static_cast<uint32_t>(__popc(v));
#else
  return static_cast<uint32_t>(__builtin_popcount(v));
#endif
}

// Padded sizes of the device layout: rows to whole tiles, code columns to whole chunks (the padded
// codes are zero; the padded activations are zero, so they add nothing; padded rows are dropped).
struct FusedShape {
  int64_t rows, cols;            // the codes' shape (rht_rows x code_cols)
  int64_t rows_pad, cols_pad;    // multiples of 16 and 128
  int64_t row_tiles, col_chunks;
};

QS_HD FusedShape fused_shape(int64_t rows, int64_t cols) {
  FusedShape s;
  s.rows = rows;
  s.cols = cols;
  s.row_tiles = (rows + kTileRows - 1) / kTileRows;
  s.col_chunks = (cols + kChunkCols - 1) / kChunkCols;
  s.rows_pad = s.row_tiles * kTileRows;
  s.cols_pad = s.col_chunks * kChunkCols;
  return s;
}

// Index (in 16-byte units, or 2 x 64-bit words / 2 x 32-bit E81B words) of lane `lane`'s value in
// chunk (cp, rt).
QS_HD int64_t chunk_slot(const FusedShape& s, int64_t cp, int64_t rt, int lane) {
  return (cp * s.row_tiles + rt) * 32 + lane;
}

// Tile row and code column (within the 16 x 8-code tile) of code q of word `lane` (§8.4).
QS_HD int word_row(int lane, int q) { return 2 * (lane >> 2) + (q & 1); }
QS_HD int word_code_col(int lane, int q) { return 2 * (lane & 3) + (q >> 1); }

// E8P12 decode of code q of a §8.4 word into 4 fp16 pairs (coordinates (0,1), (2,3), (4,5), (6,7)),
// before the offset: pair value = 32 + nu'/2, codeword = pair - 35.75 (exact in fp16). packed_k =
// the packed-table word of the code's S row (§3.3); sign_hi = the word's high 32 bits, whose bit
// 4j + q is sign bit j of code q, so (sign_hi >> q) & 0x11111111 puts sign bit p at bit 4p, under
// nibble p. Parity P = popcount; nibble p is XOR-ed with 14 e_p + P, where e = r with bit 0
// toggled by P (§3.4; the integer form of §7.3's nibble trick, as in e8p_decode.cuh).
QS_HD void e8p_half_pairs(uint32_t packed_k, uint32_t sign_hi, int q, uint32_t h[4]) {
  const uint32_t spread = (sign_hi >> q) & 0x11111111u;
  const uint32_t parity = popcount32(spread) & 1u;
  const uint32_t mask = (spread * 14u) ^ (parity ? 0x1111111Fu : 0u);
  const uint32_t x = packed_k ^ mask;
  h[0] = ((x << 4) & 0x00F000F0u) | kHalfBase;
  h[1] = (x & 0x00F000F0u) | kHalfBase;
  h[2] = ((x >> 4) & 0x00F000F0u) | kHalfBase;
  h[3] = ((x >> 8) & 0x00F000F0u) | kHalfBase;
}

// The S-row index of code q of a word (low 32 bits, byte q).
QS_HD uint32_t word_row_index(uint32_t lo, int q) { return (lo >> (8 * q)) & 0xFFu; }

// Fused kernel work split: blocks = slices x groups; slice s covers column chunks
// [s * warps, (s + 1) * warps) (one per warp), group g covers row tiles [g * tiles, (g + 1) * tiles).
// Enough groups to give every SM a few blocks, at most kMaxGroupTiles tiles per group.
struct FusedGrid {
  int64_t slices, groups, group_tiles;
  int64_t blocks() const { return slices * groups; }
};

QS_HD FusedGrid fused_grid(const FusedShape& s, int sm_count) {
  FusedGrid g;
  g.slices = (s.col_chunks + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const int64_t target_blocks = 4 * static_cast<int64_t>(sm_count > 0 ? sm_count : 1);
  int64_t groups = (target_blocks + g.slices - 1) / g.slices;
  if (groups > s.row_tiles) groups = s.row_tiles;
  if (groups < 1) groups = 1;
  int64_t tiles = (s.row_tiles + groups - 1) / groups;
  if (tiles > kMaxGroupTiles) tiles = kMaxGroupTiles;
  g.group_tiles = tiles;
  g.groups = (s.row_tiles + tiles - 1) / tiles;
  return g;
}

// The column chunk and row-tile range of warp `warp` of block `block`; cp >= col_chunks means the
// warp has no chunk (it still takes part in the block's barriers).
QS_HD void fused_work(const FusedShape& s, const FusedGrid& g, int64_t block, int warp, int64_t* cp,
                      int64_t* rt_begin, int64_t* rt_end) {
  const int64_t slice = block % g.slices, group = block / g.slices;
  *cp = slice * kWarpsPerBlock + warp;
  *rt_begin = group * g.group_tiles;
  int64_t end = *rt_begin + g.group_tiles;
  if (end > s.row_tiles) end = s.row_tiles;
  *rt_end = end;
}

// Column (in the padded activation vector) of the 8 activations that lane (g, t) loads for tile j
// and code column parity b of chunk cp; its B fragment for mma s (0, 1) is pairs 2s and 2s + 1.
QS_HD int64_t act_col(int64_t cp, int j, int lane, int b) {
  return (2 * cp + j) * kTileCols + 8 * (2 * (lane & 3) + b);
}

// The four outputs of lane (g, t) after the mmas (c0..c3 of m16n8k16): tile row and batch column.
QS_HD int acc_row(int lane, int c) { return 2 * (lane >> 2) + (c >> 1); }
QS_HD int acc_batch(int lane, int c) { return 2 * (lane & 3) + (c & 1); }

// fp16 activations: a power-of-two scale that brings max|u| into [2^13, 2^14) (no overflow, full
// precision for the large entries); 1 for an all-zero vector. Exact to undo.
QS_HD float fp16_scale_for(float max_abs) {
  if (!(max_abs > 0.0f) || max_abs > 3.0e38f) return 1.0f;
  int e = 0;
#ifdef __CUDA_ARCH__
  frexpf(max_abs, &e);
#else
  (void)__builtin_frexpf(max_abs, &e);
#endif
  int p = 14 - e;  // max_abs * 2^p in [2^13, 2^14)
  if (p > 120) p = 120;
  if (p < -120) p = -120;
#ifdef __CUDA_ARCH__
  return ldexpf(1.0f, p);
#else
  return __builtin_ldexpf(1.0f, p);
#endif
}

// Walsh-Hadamard butterfly p (0 <= p < n/2) of the stage with half-width h on rows of length len
// (a power of two, h < len): the pair (i, j = i + h) it combines.
QS_HD void fwht_pair(int64_t p, int64_t h, int64_t len, int64_t* i, int64_t* j) {
  const int64_t half = len / 2;
  const int64_t row = p / half, w = p % half;
  *i = row * len + (w / h) * 2 * h + (w % h);
  *j = *i + h;
}

}  // namespace qs_cuda

namespace qs_cuda {

// RHT kernel, phase 1 (§2.1, §2.4): element i = (a, b) (a = i / len, b = i % len) of G X, where
// X[a'][b] = in[a' len + b] * pre[a' len + b] for a' len + b < in_count and 0 beyond (the zero
// padding of §10.6), and G is the mb x mb ±1 base matrix to apply (H^T for the input side's M^T,
// H for the output side's M), row-major. mb == 1: X itself. pre may be null (no signs).
QS_HD float rht_base_element(int64_t i, int64_t len, int mb, const int8_t* G, const float* in,
                             int64_t in_count, const float* pre) {
  if (mb == 1) return i < in_count ? in[i] * (pre ? pre[i] : 1.0f) : 0.0f;
  const int64_t a = i / len, b = i % len;
  float acc = 0.0f;
  for (int k = 0; k < mb; ++k) {
    const int64_t idx = k * len + b;
    if (idx < in_count) {
      const float v = in[idx] * (pre ? pre[idx] : 1.0f);
      acc += G[a * mb + k] > 0 ? v : -v;
    }
  }
  return acc;
}

}  // namespace qs_cuda
