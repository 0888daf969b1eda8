// The CUDA kernels' per-thread arithmetic (native/src/cuda/kernel_logic.cuh, device_layout.hpp),
// run on the CPU against the reference, so that it is checked on machines without a GPU:
//  1. the fp16-pair E8P12 decode of every code at every position q of a §8.4 word;
//  2. the E81B table in fp16 (exact);
//  3. an emulation of the fused mat-vec kernel (chunk layout, grid split, per-lane fragments, the
//     mma.m16n8k16 fragment layout of the PTX ISA, the block accumulators) for 2, 3 and 4 bits on
//     odd shapes and batches, against a double-precision product with the reference decode;
//  4. an emulation of the RHT kernel (base multiply, butterfly pairs, normalisation, signs) for many
//     supported n, forward and inverse, against qs_rht_apply_f32.
// What it cannot check: the CUDA compiler's code, the mma instruction itself, memory ordering.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "check.hpp"
#include "cuda/device_layout.hpp"
#include "cuda/kernel_logic.cuh"

using namespace qs_cuda;

namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1u, exp = (h >> 10) & 0x1Fu, man = h & 0x3FFu;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(man), -24);
  else if (exp == 31) v = man ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(man | 0x400u), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

uint16_t float_to_half(float f) {
  uint16_t h = 0;
  qs_f32_to_f16(&f, 1, &h);
  return h;
}

// Codeword coordinate pair from an fp16 pair before the offset.
void pair_values(uint32_t h, float* lo, float* hi) {
  *lo = half_to_float(static_cast<uint16_t>(h & 0xFFFF)) - kHalfOffsetF;
  *hi = half_to_float(static_cast<uint16_t>(h >> 16)) - kHalfOffsetF;
}

std::vector<uint32_t> packed_table() {
  std::vector<int32_t> p(256);
  CHECK_OK(qs_e8p_packed_table(p.data()));
  return std::vector<uint32_t>(p.begin(), p.end());
}

// 1. Every code at every position of a word (the other three codes random).
void check_pair_decode() {
  const std::vector<uint32_t> packed = packed_table();
  std::vector<uint16_t> all(65536);
  for (int c = 0; c < 65536; ++c) all[c] = static_cast<uint16_t>(c);
  std::vector<float> ref(65536 * 8);
  CHECK_OK(qs_e8p_decode(all.data(), 65536, ref.data()));
  qs_test::Rng rng(7);
  int bad = 0;
  for (int c = 0; c < 65536; ++c) {
    for (int q = 0; q < 4; ++q) {
      // A 16 x 64 tile of random codes with `c` placed where word 0's code q lives.
      uint16_t codes[16 * 8];
      for (auto& v : codes) v = static_cast<uint16_t>(rng.next());
      codes[word_row(0, q) * 8 + word_code_col(0, q)] = static_cast<uint16_t>(c);
      uint64_t words[32];
      CHECK_OK(qs_pack_e8p(codes, 16, 64, words));
      const uint32_t lo = static_cast<uint32_t>(words[0]), hi = static_cast<uint32_t>(words[0] >> 32);
      uint32_t h[4];
      e8p_half_pairs(packed[word_row_index(lo, q)], hi, q, h);
      for (int p = 0; p < 4; ++p) {
        float a, b;
        pair_values(h[p], &a, &b);
        if (a != ref[c * 8 + 2 * p] || b != ref[c * 8 + 2 * p + 1]) {
          if (bad++ < 5)
            std::fprintf(stderr, "code %04x q %d pair %d: (%g, %g) vs (%g, %g)\n", c, q, p, a, b,
                         ref[c * 8 + 2 * p], ref[c * 8 + 2 * p + 1]);
        }
      }
    }
  }
  CHECK(bad == 0);
  std::printf("fp16-pair decode: 65536 codes x 4 word positions, %d mismatches\n", bad);
}

// 2. E81B rows are exact in fp16.
void check_e81b_half() {
  std::vector<float> t(256 * 8);
  CHECK_OK(qs_e81b_table(t.data()));
  for (float v : t) CHECK(half_to_float(float_to_half(v)) == v);
}

// The mma.m16n8k16 (row.col, f16 in, f32 accumulate) over the 32 lanes' fragments, with the
// fragment layout of the PTX ISA: groupID g = lane >> 2, t = lane & 3;
// A: reg0 = (row g, k 2t, 2t+1), reg1 = (row g+8, k 2t..), reg2 = (row g, k 2t+8..), reg3 = (row g+8, k 2t+8..);
// B: reg0 = (k 2t, 2t+1; col g), reg1 = (k 2t+8, 2t+9; col g);
// C: c0, c1 = (row g, col 2t, 2t+1), c2, c3 = (row g+8, col 2t, 2t+1). Low half = lower index.
struct Lane {
  double a[4][2];  // the 4 A registers, (lo, hi) halves as values
  double b[2][2];
  double c[4];
};

void emulate_mma(Lane* lanes) {
  double A[16][16], B[16][8];
  for (int L = 0; L < 32; ++L) {
    const int g = L >> 2, t = L & 3;
    for (int e = 0; e < 2; ++e) {
      A[g][2 * t + e] = lanes[L].a[0][e];
      A[g + 8][2 * t + e] = lanes[L].a[1][e];
      A[g][2 * t + 8 + e] = lanes[L].a[2][e];
      A[g + 8][2 * t + 8 + e] = lanes[L].a[3][e];
      B[2 * t + e][g] = lanes[L].b[0][e];
      B[2 * t + 8 + e][g] = lanes[L].b[1][e];
    }
  }
  for (int L = 0; L < 32; ++L) {
    const int g = L >> 2, t = L & 3;
    for (int c = 0; c < 4; ++c) {
      const int row = g + 8 * (c >> 1), col = 2 * t + (c & 1);
      double s = 0;
      for (int k = 0; k < 16; ++k) s += A[row][k] * B[k][col];
      lanes[L].c[c] += s;
    }
  }
}

// Code q of a §8.4 word as 4 coordinate pairs, through the kernel's fp16-pair decode.
void decode_word_pairs(const std::vector<uint32_t>& packed, uint64_t word, int q, double out[4][2]) {
  uint32_t h[4];
  e8p_half_pairs(packed[word_row_index(static_cast<uint32_t>(word), q)], static_cast<uint32_t>(word >> 32), q, h);
  for (int p = 0; p < 4; ++p) {
    float lo, hi;
    pair_values(h[p], &lo, &hi);
    out[p][0] = lo;
    out[p][1] = hi;
  }
}

// The fused kernel (cuda_layer.cu, fused_matvec_kernel) for one pass of nb <= 8 vectors:
// act (nb x cols_pad, fp16 bit patterns), the stage layouts, z += W~ u.
void emulate_fused(int bits, double inv_rho2, const FusedShape& s, int sm_count,
                   const std::vector<uint64_t>& w1, const std::vector<uint64_t>& w2,
                   const std::vector<uint32_t>& e81b, const std::vector<uint16_t>& act, int nb,
                   std::vector<double>& z) {
  const std::vector<uint32_t> packed = packed_table();
  std::vector<float> e81b_t(256 * 8);
  CHECK_OK(qs_e81b_table(e81b_t.data()));
  const FusedGrid grid = fused_grid(s, sm_count);
  CHECK(grid.group_tiles <= kMaxGroupTiles);
  CHECK(grid.groups * grid.group_tiles >= s.row_tiles);
  CHECK(grid.slices * kWarpsPerBlock >= s.col_chunks);
  for (int64_t block = 0; block < grid.blocks(); ++block) {
    std::vector<double> shared(static_cast<size_t>(kMaxGroupTiles * kTileRows * kMmaBatch), 0.0);
    int64_t group_begin = -1;
    for (int warp = 0; warp < kWarpsPerBlock; ++warp) {
      int64_t cp, rt0, rt1;
      fused_work(s, grid, block, warp, &cp, &rt0, &rt1);
      group_begin = rt0;
      if (cp >= s.col_chunks) continue;
      for (int64_t rt = rt0; rt < rt1; ++rt) {
        Lane lanes[32], lanes2[32];
        std::memset(lanes, 0, sizeof(lanes));
        std::memset(lanes2, 0, sizeof(lanes2));
        for (int j = 0; j < 2; ++j) {
          for (int b = 0; b < 2; ++b) {
            for (int sidx = 0; sidx < 2; ++sidx) {
              for (int L = 0; L < 32; ++L) {
                const int64_t slot = chunk_slot(s, cp, rt, L);
                // A fragments: codes q0 = 2b (mma row g), q1 = 2b + 1 (mma row g + 8).
                double pairs[2][4][2];
                double pairs2[2][4][2] = {};
                for (int a = 0; a < 2; ++a) {
                  const int q = a + 2 * b;
                  decode_word_pairs(packed, w1[2 * slot + j], q, pairs[a]);
                  if (bits == 4) {
                    decode_word_pairs(packed, w2[2 * slot + j], q, pairs2[a]);
                  } else if (bits == 3) {
                    const uint32_t idx = (e81b[2 * slot + j] >> (8 * q)) & 0xFFu;
                    for (int p = 0; p < 4; ++p) {
                      pairs2[a][p][0] = half_to_float(float_to_half(e81b_t[idx * 8 + 2 * p]));
                      pairs2[a][p][1] = half_to_float(float_to_half(e81b_t[idx * 8 + 2 * p + 1]));
                    }
                  }
                }
                for (int e = 0; e < 2; ++e) {
                  lanes[L].a[0][e] = pairs[0][2 * sidx][e];
                  lanes[L].a[1][e] = pairs[1][2 * sidx][e];
                  lanes[L].a[2][e] = pairs[0][2 * sidx + 1][e];
                  lanes[L].a[3][e] = pairs[1][2 * sidx + 1][e];
                  lanes2[L].a[0][e] = pairs2[0][2 * sidx][e];
                  lanes2[L].a[1][e] = pairs2[1][2 * sidx][e];
                  lanes2[L].a[2][e] = pairs2[0][2 * sidx + 1][e];
                  lanes2[L].a[3][e] = pairs2[1][2 * sidx + 1][e];
                }
                // B fragments: 8 activations of batch vector g at act_col; pairs 2s, 2s + 1.
                const int g = L >> 2;
                const int64_t col = act_col(cp, j, L, b);
                for (int e = 0; e < 2; ++e) {
                  double v0 = 0, v1 = 0;
                  if (g < nb) {
                    v0 = half_to_float(act[g * s.cols_pad + col + 4 * sidx + e]);
                    v1 = half_to_float(act[g * s.cols_pad + col + 4 * sidx + 2 + e]);
                  }
                  lanes[L].b[0][e] = lanes2[L].b[0][e] = v0;
                  lanes[L].b[1][e] = lanes2[L].b[1][e] = v1;
                }
              }
              emulate_mma(lanes);
              if (bits != 2) emulate_mma(lanes2);
            }
          }
        }
        for (int L = 0; L < 32; ++L)
          for (int c = 0; c < 4; ++c) {
            const int bcol = acc_batch(L, c);
            if (bcol >= nb) continue;
            const int64_t local = (rt - rt0) * kTileRows + acc_row(L, c);
            shared[local * kMmaBatch + bcol] += lanes[L].c[c] + inv_rho2 * lanes2[L].c[c];
          }
      }
    }
    // Flush: rows of the group, batch columns < nb.
    for (int64_t local = 0; local < kMaxGroupTiles * kTileRows; ++local) {
      const int64_t row = group_begin * kTileRows + local;
      if (row >= s.rows_pad || local >= (int64_t)kTileRows * grid.group_tiles) continue;
      for (int bcol = 0; bcol < nb; ++bcol) z[bcol * s.rows_pad + row] += shared[local * kMmaBatch + bcol];
    }
  }
}

void check_fused(int codebook_id, int64_t rows, int64_t cols, int nb, int sm_count, uint64_t seed) {
  int32_t bits = 0;
  double rho, rho2;
  CHECK_OK(qs_codebook_info(codebook_id, &bits, &rho, &rho2));
  const FusedShape s = fused_shape(rows, cols);
  const int64_t code_count = rows * cols / 8;
  qs_test::Rng rng(seed);
  std::vector<uint32_t> codes(code_count);
  std::vector<uint16_t> c1(code_count), c2(code_count);
  std::vector<uint8_t> c3(code_count);
  for (int64_t i = 0; i < code_count; ++i) {
    const uint32_t a = static_cast<uint32_t>(rng.next() & 0xFFFF), b = static_cast<uint32_t>(rng.next());
    if (bits == 2) codes[i] = a;
    else if (bits == 4) codes[i] = a << 16 | (b & 0xFFFF);
    else codes[i] = a << 16 | (b & 0xFF);
    c1[i] = static_cast<uint16_t>(bits == 2 ? codes[i] : codes[i] >> 16);
    c2[i] = static_cast<uint16_t>(codes[i] & 0xFFFF);
    c3[i] = static_cast<uint8_t>(codes[i] & 0xFF);
  }
  const std::vector<uint64_t> w1 = e8p_chunk_words(c1.data(), s);
  const std::vector<uint64_t> w2 = bits == 4 ? e8p_chunk_words(c2.data(), s) : std::vector<uint64_t>();
  const std::vector<uint32_t> e3 = bits == 3 ? e81b_chunk_words(c3.data(), s) : std::vector<uint32_t>();
  CHECK((int64_t)w1.size() == 2 * 32 * s.row_tiles * s.col_chunks);
  // fp16 activations (padded columns zero), the reference decoded matrix in codebook units.
  std::vector<uint16_t> act(static_cast<size_t>(nb * s.cols_pad), 0);
  std::vector<double> u(static_cast<size_t>(nb * cols));
  for (int b = 0; b < nb; ++b)
    for (int64_t c = 0; c < cols; ++c) {
      const uint16_t h = float_to_half(static_cast<float>(rng.normal() * 1000.0));
      act[b * s.cols_pad + c] = h;
      u[b * cols + c] = half_to_float(h);
    }
  std::vector<float> w(static_cast<size_t>(rows * cols));
  CHECK_OK(qs_codebook_decode(codebook_id, 0.0, codes.data(), code_count, w.data()));
  // The device sums stage 1 and stage 2 / rho2 separately; the reference decode does it per weight.
  const double inv_rho2 = bits == 2 ? 0.0 : 1.0 / rho2;
  std::vector<double> z(static_cast<size_t>(nb * s.rows_pad), 0.0);
  emulate_fused(bits, inv_rho2, s, sm_count, w1, w2, e3, act, nb, z);
  double max_err = 0, max_ref = 0;
  for (int b = 0; b < nb; ++b)
    for (int64_t r = 0; r < rows; ++r) {
      double ref = 0;
      for (int64_t c = 0; c < cols; ++c) ref += static_cast<double>(w[r * cols + c]) * u[b * cols + c];
      max_err = std::max(max_err, std::fabs(ref - z[b * s.rows_pad + r]));
      max_ref = std::max(max_ref, std::fabs(ref));
    }
  // The reference decode rounds q1 + q2/rho2 to float per weight: relative 2^-24 per term.
  const double tol = (bits == 2 ? 1e-9 : 1e-6) * std::max(1.0, max_ref);
  CHECK(max_err <= tol);
  std::printf("fused emulation id %d, %lld x %lld, batch %d, %d SMs: max |err| %.3g (max |z| %.3g)\n",
              codebook_id, (long long)rows, (long long)cols, nb, sm_count, max_err, max_ref);
}

// 4. RHT kernel emulation (cuda_rht.cu, rht_kernel): phase 1 base multiply, butterflies on rows of
// length len, then scale and signs; forward = M^T (s ⊙ x), inverse = s ⊙ (M x).
void emulate_rht(std::vector<float>& x, int64_t n, const std::vector<float>& s, bool inverse) {
  const int mb = qs_hadamard_base_order(n);
  const int64_t len = n / mb;
  std::vector<int8_t> H(static_cast<size_t>(mb) * mb), G(H.size());
  CHECK_OK(qs_hadamard_base_matrix(mb, H.data()));
  for (int a = 0; a < mb; ++a)
    for (int k = 0; k < mb; ++k) G[a * mb + k] = inverse ? H[a * mb + k] : H[k * mb + a];
  std::vector<float> sh(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    sh[i] = rht_base_element(i, len, mb, G.data(), x.data(), n, inverse ? nullptr : s.data());
  for (int64_t h = 1; h < len; h *= 2)
    for (int64_t p = 0; p < n / 2; ++p) {
      int64_t i, j;
      fwht_pair(p, h, len, &i, &j);
      const float a = sh[i], b = sh[j];
      sh[i] = a + b;
      sh[j] = a - b;
    }
  const float norm = 1.0f / std::sqrt(static_cast<float>(n));
  for (int64_t i = 0; i < n; ++i) x[i] = sh[i] * norm * (inverse ? s[i] : 1.0f);
}

void check_rht() {
  int count = 0;
  double worst = 0;
  for (int m : {1, 12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172}) {
    for (int64_t len = 1; m * len <= 24576; len *= 2) {
      const int64_t n = m * len;
      if (qs_hadamard_base_order(n) != m) continue;
      qs_test::Rng rng(static_cast<uint64_t>(n));
      std::vector<float> x(n), s(n);
      for (int64_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(rng.normal());
        s[i] = (rng.next() >> 63) ? -1.0f : 1.0f;
      }
      for (int inverse = 0; inverse < 2; ++inverse) {
        std::vector<float> ref = x, got = x;
        CHECK_OK(qs_rht_apply_f32(ref.data(), 1, n, 1, s.data(), inverse));
        emulate_rht(got, n, s, inverse != 0);
        double err = 0;
        for (int64_t i = 0; i < n; ++i) err = std::max(err, (double)std::fabs(ref[i] - got[i]));
        worst = std::max(worst, err);
        CHECK(err <= 2e-5);
        ++count;
      }
    }
  }
  std::printf("RHT emulation: %d (n, direction) cases, max |err| %.3g (unit-normal input)\n", count, worst);
  // Butterfly pairs cover every element once per stage.
  for (int64_t len : {2, 8, 64}) {
    const int64_t n = 3 * len;
    for (int64_t h = 1; h < len; h *= 2) {
      std::vector<int> seen(n, 0);
      for (int64_t p = 0; p < n / 2; ++p) {
        int64_t i, j;
        fwht_pair(p, h, len, &i, &j);
        CHECK(i / len == j / len && j - i == h && (i % (2 * h)) < h);
        ++seen[i];
        ++seen[j];
      }
      for (int v : seen) CHECK(v == 1);
    }
  }
}

void check_scale() {
  CHECK(fp16_scale_for(0.0f) == 1.0f);
  for (float m : {1e-30f, 3e-8f, 0.5f, 1.0f, 1.5f, 16383.0f, 16384.0f, 70000.0f, 3e30f}) {
    const float sc = fp16_scale_for(m);
    CHECK(m * sc >= 8192.0f && m * sc < 16384.0f);
  }
}

void check_layout_shapes() {
  const FusedShape s = fused_shape(172, 40);
  CHECK(s.rows_pad == 176 && s.cols_pad == 128 && s.row_tiles == 11 && s.col_chunks == 1);
  // Every (chunk, row tile) pair is covered by exactly one (block, warp) for many shapes.
  for (int64_t rows : {16, 48, 172, 4096, 11008, 28672})
    for (int64_t cols : {128, 200, 4096, 11008, 28672})
      for (int sms : {1, 7, 132}) {
        const FusedShape sh = fused_shape(rows, cols);
        const FusedGrid g = fused_grid(sh, sms);
        std::vector<int> cover(static_cast<size_t>(sh.row_tiles * sh.col_chunks), 0);
        for (int64_t b = 0; b < g.blocks(); ++b)
          for (int w = 0; w < kWarpsPerBlock; ++w) {
            int64_t cp, r0, r1;
            fused_work(sh, g, b, w, &cp, &r0, &r1);
            CHECK(r1 - r0 <= kMaxGroupTiles);
            if (cp >= sh.col_chunks) continue;
            for (int64_t rt = r0; rt < r1; ++rt) ++cover[cp * sh.row_tiles + rt];
          }
        bool all_once = true;
        for (int v : cover) all_once = all_once && v == 1;
        CHECK(all_once);
      }
}

}  // namespace

int main() {
  check_pair_decode();
  check_e81b_half();
  check_scale();
  check_layout_shapes();
  // Odd shapes: rows not a multiple of 16, columns not a multiple of 64 or 128, one code column.
  struct Case { int id; int64_t rows, cols; int nb; int sms; };
  const Case cases[] = {
      {QS_CODEBOOK_E8P12, 16, 128, 1, 132},   {QS_CODEBOOK_E8P12, 172, 40, 1, 3},
      {QS_CODEBOOK_E8P12, 50, 520, 8, 2},     {QS_CODEBOOK_E8P12, 300, 1032, 3, 132},
      {QS_CODEBOOK_E8P12, 1, 8, 1, 1},        {QS_CODEBOOK_E8P12, 700, 1280, 5, 7},
      {QS_CODEBOOK_E8P12RVQ4B, 40, 264, 1, 4}, {QS_CODEBOOK_E8P12RVQ4B, 208, 384, 8, 132},
      {QS_CODEBOOK_E8P12RVQ3B, 40, 264, 1, 4}, {QS_CODEBOOK_E8P12RVQ3B, 208, 392, 6, 132},
  };
  for (const Case& c : cases) check_fused(c.id, c.rows, c.cols, c.nb, c.sms, 1000 + c.rows + c.cols);
  check_rht();
  TEST_MAIN_END();
}
