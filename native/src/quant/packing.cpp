// Qidxs packing for the reference kernels (QUIPSHARP.md §8.4).
//
// E8P stage: codes Q[r][k] (m rows, n/8 code columns) go to m*n/32 little-endian 64-bit words. With
// R1 = r/16, R2 = (r%16)/2, C1 = k/8, C2 = (k%8)/2 and q = r%2 + 2*(k%2):
//   word = ((R1*(n/64) + C1)*8 + R2)*4 + C2,
//   bits 8q..8q+7 = Q >> 8 (row of S),  bit 32 + 4j + q = bit j of (Q & 0xFF).
// RVQ4 Qidxs [m, n/16]: per row of that 2-D view, n/32 stage-1 words then n/32 stage-2 words (each
// stage's flat E8P array viewed as [m, n/32]). RVQ3 Qidxs [m, 3n/64]: n/32 words of the E8P stage
// (same view), then n/64 words of E81B indices of matrix row r, byte i of word w = index of code
// column 8w + i.
#include <cstring>
#include <vector>

#include "quant/codebook.hpp"
#include "common/status.hpp"

namespace qs {
namespace {

void require_shape(int64_t m, int64_t n) {
  require(m >= 0, "m = ", m, " must be >= 0");
  require(n >= 0, "n = ", n, " must be >= 0");
  require(m % 16 == 0, "m = ", m, " must be a multiple of 16 for the packed layout (§8.4)");
  require(n % 64 == 0, "n = ", n, " must be a multiple of 64 for the packed layout (§8.4)");
  // m * n must stay far from overflow (every count below is at most m*n/8 elements of 8 bytes).
  require(m == 0 || n <= INT64_MAX / 16 / m, "m * n = ", m, " * ", n, " is too large");
}

inline int64_t word_index(int64_t r, int64_t k, int64_t n) {
  const int64_t r1 = r / 16, r2 = (r % 16) / 2, c1 = k / 8, c2 = (k % 8) / 2;
  return ((r1 * (n / 64) + c1) * 8 + r2) * 4 + c2;
}

// Spreads the 8 bits of b to bits 0, 4, 8, ..., 28 (bit j -> bit 4j).
inline uint64_t spread_nibbles(uint32_t b) {
  uint64_t v = b & 0xFFu;
  v = (v | (v << 12)) & 0x000F000Fu;
  v = (v | (v << 6)) & 0x03030303u;
  v = (v | (v << 3)) & 0x11111111u;
  return v;
}

// Inverse of spread_nibbles on the bits 0, 4, ..., 28.
inline uint32_t gather_nibbles(uint64_t v) {
  v &= 0x11111111u;
  v = (v | (v >> 3)) & 0x03030303u;
  v = (v | (v >> 6)) & 0x000F000Fu;
  v = (v | (v >> 12)) & 0xFFu;
  return static_cast<uint32_t>(v);
}

// Q[r][k] = code(r, k) for r < m, k < n/8.
template <typename CodeAt>
void pack_e8p_impl(CodeAt code_at, int64_t m, int64_t n, uint64_t* words) {
  std::memset(words, 0, sizeof(uint64_t) * static_cast<size_t>(m * n / 32));
  const int64_t cols = n / 8;
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t k = 0; k < cols; ++k) {
      const uint32_t code = code_at(r, k);
      const int q = static_cast<int>((r % 2) + 2 * (k % 2));
      const uint64_t bits = (static_cast<uint64_t>((code >> 8) & 0xFFu) << (8 * q)) |
                            (spread_nibbles(code & 0xFFu) << (32 + q));
      words[word_index(r, k, n)] |= bits;
    }
  }
}

template <typename Store>
void unpack_e8p_impl(const uint64_t* words, int64_t m, int64_t n, Store store) {
  const int64_t cols = n / 8;
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t k = 0; k < cols; ++k) {
      const uint64_t w = words[word_index(r, k, n)];
      const int q = static_cast<int>((r % 2) + 2 * (k % 2));
      const uint32_t row = static_cast<uint32_t>((w >> (8 * q)) & 0xFFu);
      const uint32_t signs = gather_nibbles(w >> (32 + q));
      store(r, k, static_cast<uint16_t>((row << 8) | signs));
    }
  }
}

int64_t packed_words(int32_t id, int64_t m, int64_t n) {
  codebook_info(id);
  require_shape(m, n);
  if (id == kCodebookE8p12) return m * n / 32;
  if (id == kCodebookE8p12Rvq4) return m * n / 16;
  return m * (3 * n / 64);
}

void pack_codes(int32_t id, const uint32_t* codes, int64_t m, int64_t n, uint64_t* words) {
  const int64_t cols = n / 8;
  if (id == kCodebookE8p12) {
    pack_e8p_impl([&](int64_t r, int64_t k) { return codes[r * cols + k]; }, m, n, words);
    return;
  }
  const int64_t stage_words = m * n / 32, per_row = n / 32;
  std::vector<uint64_t> s1(static_cast<size_t>(stage_words));
  pack_e8p_impl([&](int64_t r, int64_t k) { return codes[r * cols + k] >> 16; }, m, n, s1.data());
  if (id == kCodebookE8p12Rvq4) {
    std::vector<uint64_t> s2(static_cast<size_t>(stage_words));
    pack_e8p_impl([&](int64_t r, int64_t k) { return codes[r * cols + k] & 0xFFFFu; }, m, n,
                  s2.data());
    for (int64_t row = 0; row < m; ++row) {
      std::memcpy(words + row * 2 * per_row, s1.data() + row * per_row, per_row * sizeof(uint64_t));
      std::memcpy(words + row * 2 * per_row + per_row, s2.data() + row * per_row,
                  per_row * sizeof(uint64_t));
    }
    return;
  }
  // RVQ3: [m, 3n/64] = n/32 E8P words, then n/64 words of E81B bytes.
  const int64_t e81b_per_row = n / 64, width = per_row + e81b_per_row;
  for (int64_t r = 0; r < m; ++r) {
    std::memcpy(words + r * width, s1.data() + r * per_row, per_row * sizeof(uint64_t));
    for (int64_t w = 0; w < e81b_per_row; ++w) {
      uint64_t word = 0;
      for (int i = 0; i < 8; ++i)
        word |= static_cast<uint64_t>(codes[r * cols + 8 * w + i] & 0xFFu) << (8 * i);
      words[r * width + per_row + w] = word;
    }
  }
}

void unpack_codes(int32_t id, const uint64_t* words, int64_t m, int64_t n, uint32_t* codes) {
  const int64_t cols = n / 8;
  if (id == kCodebookE8p12) {
    unpack_e8p_impl(words, m, n,
                    [&](int64_t r, int64_t k, uint16_t c) { codes[r * cols + k] = c; });
    return;
  }
  const int64_t stage_words = m * n / 32, per_row = n / 32;
  std::vector<uint64_t> s1(static_cast<size_t>(stage_words));
  if (id == kCodebookE8p12Rvq4) {
    std::vector<uint64_t> s2(static_cast<size_t>(stage_words));
    for (int64_t row = 0; row < m; ++row) {
      std::memcpy(s1.data() + row * per_row, words + row * 2 * per_row, per_row * sizeof(uint64_t));
      std::memcpy(s2.data() + row * per_row, words + row * 2 * per_row + per_row,
                  per_row * sizeof(uint64_t));
    }
    unpack_e8p_impl(s1.data(), m, n, [&](int64_t r, int64_t k, uint16_t c) {
      codes[r * cols + k] = static_cast<uint32_t>(c) << 16;
    });
    unpack_e8p_impl(s2.data(), m, n,
                    [&](int64_t r, int64_t k, uint16_t c) { codes[r * cols + k] |= c; });
    return;
  }
  const int64_t e81b_per_row = n / 64, width = per_row + e81b_per_row;
  for (int64_t r = 0; r < m; ++r)
    std::memcpy(s1.data() + r * per_row, words + r * width, per_row * sizeof(uint64_t));
  unpack_e8p_impl(s1.data(), m, n, [&](int64_t r, int64_t k, uint16_t c) {
    codes[r * cols + k] = static_cast<uint32_t>(c) << 16;
  });
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t w = 0; w < e81b_per_row; ++w) {
      const uint64_t word = words[r * width + per_row + w];
      for (int i = 0; i < 8; ++i)
        codes[r * cols + 8 * w + i] |= static_cast<uint32_t>((word >> (8 * i)) & 0xFFu);
    }
  }
}

}  // namespace
}  // namespace qs

extern "C" int32_t qs_pack_e8p(const uint16_t* codes, int64_t m, int64_t n, uint64_t* words) {
  return qs::guard([&] {
    qs::require_shape(m, n);
    if (m * n == 0) return;
    qs::require_not_null(codes, "codes");
    qs::require_not_null(words, "words");
    const int64_t cols = n / 8;
    qs::pack_e8p_impl(
        [&](int64_t r, int64_t k) { return static_cast<uint32_t>(codes[r * cols + k]); }, m, n,
        words);
  });
}

extern "C" int32_t qs_unpack_e8p(const uint64_t* words, int64_t m, int64_t n, uint16_t* codes) {
  return qs::guard([&] {
    qs::require_shape(m, n);
    if (m * n == 0) return;
    qs::require_not_null(words, "words");
    qs::require_not_null(codes, "codes");
    const int64_t cols = n / 8;
    qs::unpack_e8p_impl(words, m, n,
                        [&](int64_t r, int64_t k, uint16_t c) { codes[r * cols + k] = c; });
  });
}

extern "C" int64_t qs_packed_words(int32_t codebook_id, int64_t m, int64_t n) {
  int64_t result = -1;
  const int32_t status = qs::guard([&] { result = qs::packed_words(codebook_id, m, n); });
  return status == QS_OK ? result : -1;
}

extern "C" int32_t qs_pack_codes(int32_t codebook_id, const uint32_t* codes, int64_t m, int64_t n,
                                 uint64_t* words) {
  return qs::guard([&] {
    qs::packed_words(codebook_id, m, n);  // validates id and shape
    if (m * n == 0) return;
    qs::require_not_null(codes, "codes");
    qs::require_not_null(words, "words");
    qs::validate_codes(codebook_id, codes, m * (n / 8), "codes");
    qs::pack_codes(codebook_id, codes, m, n, words);
  });
}

extern "C" int32_t qs_unpack_codes(int32_t codebook_id, const uint64_t* words, int64_t m, int64_t n,
                                   uint32_t* codes) {
  return qs::guard([&] {
    qs::packed_words(codebook_id, m, n);
    if (m * n == 0) return;
    qs::require_not_null(words, "words");
    qs::require_not_null(codes, "codes");
    qs::unpack_codes(codebook_id, words, m, n, codes);
  });
}
