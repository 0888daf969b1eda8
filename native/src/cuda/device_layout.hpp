// Host side of the device code layout (see kernel_logic.cuh): the §8.4 words of a stage's codes,
// padded to whole chunks and stored lane by lane. Plain C++ (used by the CUDA layer and by the CPU
// test of the kernel logic). Throws std::runtime_error with qs_last_error() if packing fails.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda/kernel_logic.cuh"
#include "quipsharp/quipsharp.h"

namespace qs_cuda {

// E8P12 codes (rows x cols/8, row-major uint16; cols % 8 == 0) -> 2 * 32 * row_tiles * col_chunks
// 64-bit words: out[2 * chunk_slot(cp, rt, L) + j] = §8.4 word L of tile (rt, 2 cp + j).
inline std::vector<uint64_t> e8p_chunk_words(const uint16_t* codes, const FusedShape& s) {
  const int64_t code_cols = s.cols / 8, pad_code_cols = s.cols_pad / 8;
  std::vector<uint16_t> padded(static_cast<size_t>(s.rows_pad * pad_code_cols), 0);
  for (int64_t r = 0; r < s.rows; ++r)
    for (int64_t k = 0; k < code_cols; ++k) padded[r * pad_code_cols + k] = codes[r * code_cols + k];
  std::vector<uint64_t> tiles(static_cast<size_t>(s.rows_pad * s.cols_pad / 32));
  if (qs_pack_e8p(padded.data(), s.rows_pad, s.cols_pad, tiles.data()) != QS_OK)
    throw std::runtime_error(std::string("packing the codes: ") + qs_last_error());
  std::vector<uint64_t> out(tiles.size());
  const int64_t tiles_per_row = s.cols_pad / kTileCols;
  for (int64_t cp = 0; cp < s.col_chunks; ++cp)
    for (int64_t rt = 0; rt < s.row_tiles; ++rt)
      for (int lane = 0; lane < 32; ++lane)
        for (int j = 0; j < 2; ++j)
          out[2 * chunk_slot(s, cp, rt, lane) + j] = tiles[(rt * tiles_per_row + 2 * cp + j) * 32 + lane];
  return out;
}

// E81B indices (rows x cols/8, uint8) -> 2 * 32 * row_tiles * col_chunks 32-bit words:
// out[2 * chunk_slot(cp, rt, L) + j] byte q = index of code q of word L of tile (rt, 2 cp + j).
inline std::vector<uint32_t> e81b_chunk_words(const uint8_t* codes, const FusedShape& s) {
  const int64_t code_cols = s.cols / 8;
  std::vector<uint32_t> out(static_cast<size_t>(2 * 32 * s.row_tiles * s.col_chunks), 0);
  for (int64_t cp = 0; cp < s.col_chunks; ++cp)
    for (int64_t rt = 0; rt < s.row_tiles; ++rt)
      for (int lane = 0; lane < 32; ++lane)
        for (int j = 0; j < 2; ++j) {
          uint32_t w = 0;
          for (int q = 0; q < 4; ++q) {
            const int64_t r = rt * kTileRows + word_row(lane, q);
            const int64_t k = (2 * cp + j) * (kTileCols / 8) + word_code_col(lane, q);
            const uint32_t idx = (r < s.rows && k < code_cols) ? codes[r * code_cols + k] : 0u;
            w |= idx << (8 * q);
          }
          out[2 * chunk_slot(s, cp, rt, lane) + j] = w;
        }
  return out;
}

}  // namespace qs_cuda
