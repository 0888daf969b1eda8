// Qidxs packing (QUIPSHARP.md §8.4, test vectors §10.5.1) through the C boundary.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "check.hpp"

namespace {

uint64_t rng_state = 0x1234567ull;
uint64_t next_random() {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One nonzero code 0xABCD at (r, k), everything else 0: exactly the bits of §8.4 are set, computed
// by hand:
//   (r,k) = (0,0):  R1=0 R2=0 C1=0 C2=0 q=0 -> word 0
//   (1,0):          R2=0, a=1 -> q=1, word 0
//   (0,1):          C2=0, b=1 -> q=2, word 0
//   (15,7):         R1=0 R2=7 C1=0 C2=3 a=1 b=1 -> q=3, word (7*4 + 3) = 31
//   (16,8) n=128:   R1=1 R2=0 C1=1 C2=0 q=0 -> word ((1*2 + 1)*8 + 0)*4 + 0 = 96
// Index byte 0xAB at bits 8q..8q+7; sign byte 0xCD bit j at bit 32 + 4j + q.
void test_bit_positions() {
  const int64_t m = 32, n = 128, cols = n / 8, words_count = m * n / 32;
  struct Case {
    int r, k, word, q;
  };
  const Case cases[5] = {{0, 0, 0, 0}, {1, 0, 0, 1}, {0, 1, 0, 2}, {15, 7, 31, 3}, {16, 8, 96, 0}};
  for (const Case& c : cases) {
    std::vector<uint16_t> codes(m * cols, 0);
    codes[c.r * cols + c.k] = 0xABCD;
    std::vector<uint64_t> words(words_count, ~0ull);
    CHECK_OK(qs_pack_e8p(codes.data(), m, n, words.data()));
    uint64_t want = 0xABull << (8 * c.q);
    for (int j = 0; j < 8; ++j)
      if ((0xCD >> j) & 1) want |= 1ull << (32 + 4 * j + c.q);
    for (int64_t w = 0; w < words_count; ++w) {
      if (words[w] != (w == c.word ? want : 0ull)) {
        std::fprintf(stderr, "(r,k)=(%d,%d): word %lld = %016llx\n", c.r, c.k,
                     static_cast<long long>(w), static_cast<unsigned long long>(words[w]));
        CHECK(false);
      }
    }
    std::vector<uint16_t> back(m * cols, 1);
    CHECK_OK(qs_unpack_e8p(words.data(), m, n, back.data()));
    CHECK(back == codes);
  }
}

std::vector<uint32_t> random_codes(int32_t id, int64_t count) {
  std::vector<uint32_t> codes(count);
  for (uint32_t& c : codes) {
    const uint32_t r = static_cast<uint32_t>(next_random());
    if (id == QS_CODEBOOK_E8P12) c = r & 0xFFFFu;
    if (id == QS_CODEBOOK_E8P12RVQ4B) c = r;
    if (id == QS_CODEBOOK_E8P12RVQ3B) c = r & 0xFFFF00FFu;
  }
  return codes;
}

void test_round_trips() {
  const int32_t ids[3] = {QS_CODEBOOK_E8P12, QS_CODEBOOK_E8P12RVQ4B, QS_CODEBOOK_E8P12RVQ3B};
  const int64_t shapes[6][2] = {{16, 64}, {32, 128}, {48, 192}, {16, 256}, {64, 64}, {80, 320}};
  for (int32_t id : ids) {
    for (const auto& shape : shapes) {
      const int64_t m = shape[0], n = shape[1], cols = n / 8;
      const int64_t nw = qs_packed_words(id, m, n);
      const int64_t want_words = id == QS_CODEBOOK_E8P12        ? m * n / 32
                                 : id == QS_CODEBOOK_E8P12RVQ4B ? m * n / 16
                                                                : m * 3 * n / 64;
      CHECK(nw == want_words);
      const std::vector<uint32_t> codes = random_codes(id, m * cols);
      std::vector<uint64_t> words(nw, 0xDEADull);
      CHECK_OK(qs_pack_codes(id, codes.data(), m, n, words.data()));
      std::vector<uint32_t> back(codes.size(), 7);
      CHECK_OK(qs_unpack_codes(id, words.data(), m, n, back.data()));
      CHECK(back == codes);

      // Layout of the stages: each stage's E8P words are qs_pack_e8p of that stage's codes, laid
      // out as the column slices of §8.4.
      std::vector<uint16_t> s1(codes.size()), s2(codes.size());
      for (size_t i = 0; i < codes.size(); ++i) {
        s1[i] = static_cast<uint16_t>(id == QS_CODEBOOK_E8P12 ? codes[i] : codes[i] >> 16);
        s2[i] = static_cast<uint16_t>(codes[i] & 0xFFFFu);
      }
      std::vector<uint64_t> w1(m * n / 32), w2(m * n / 32);
      CHECK_OK(qs_pack_e8p(s1.data(), m, n, w1.data()));
      CHECK_OK(qs_pack_e8p(s2.data(), m, n, w2.data()));
      const int64_t per_row = n / 32;
      int layout_errors = 0;
      if (id == QS_CODEBOOK_E8P12) {
        layout_errors += !(words == w1);
      } else if (id == QS_CODEBOOK_E8P12RVQ4B) {
        for (int64_t row = 0; row < m; ++row)
          for (int64_t c = 0; c < per_row; ++c) {
            layout_errors += words[row * 2 * per_row + c] != w1[row * per_row + c];
            layout_errors += words[row * 2 * per_row + per_row + c] != w2[row * per_row + c];
          }
      } else {
        const int64_t width = 3 * n / 64;
        for (int64_t row = 0; row < m; ++row) {
          for (int64_t c = 0; c < per_row; ++c)
            layout_errors += words[row * width + c] != w1[row * per_row + c];
          for (int64_t w = 0; w < n / 64; ++w)
            for (int i = 0; i < 8; ++i) {
              const uint64_t byte = (words[row * width + per_row + w] >> (8 * i)) & 0xFF;
              layout_errors += byte != (codes[row * cols + 8 * w + i] & 0xFF);
            }
        }
      }
      CHECK(layout_errors == 0);
    }
  }
  // E8P-only entry points on random uint16 codes.
  const int64_t m = 48, n = 192;
  std::vector<uint16_t> codes(m * n / 8);
  for (uint16_t& c : codes) c = static_cast<uint16_t>(next_random());
  std::vector<uint64_t> words(m * n / 32);
  CHECK_OK(qs_pack_e8p(codes.data(), m, n, words.data()));
  std::vector<uint16_t> back(codes.size());
  CHECK_OK(qs_unpack_e8p(words.data(), m, n, back.data()));
  CHECK(back == codes);
}

void test_errors() {
  std::vector<uint16_t> c16(64 * 64);
  std::vector<uint32_t> c32(64 * 64);
  std::vector<uint64_t> w(64 * 64);
  CHECK_STATUS(qs_pack_e8p(c16.data(), 8, 64, w.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "m = 8") != nullptr);
  CHECK_STATUS(qs_pack_e8p(c16.data(), 16, 32, w.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "n = 32") != nullptr);
  CHECK_STATUS(qs_unpack_e8p(w.data(), 24, 64, c16.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_unpack_e8p(w.data(), 16, 96, c16.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_pack_e8p(nullptr, 16, 64, w.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_pack_e8p(c16.data(), 16, 64, nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_pack_e8p(c16.data(), -16, 64, w.data()), QS_ERR_INVALID_ARGUMENT);
  const int32_t ids[3] = {QS_CODEBOOK_E8P12, QS_CODEBOOK_E8P12RVQ4B, QS_CODEBOOK_E8P12RVQ3B};
  for (int32_t id : ids) {
    CHECK(qs_packed_words(id, 8, 64) == -1);
    CHECK(std::strstr(qs_last_error(), "m = 8") != nullptr);
    CHECK(qs_packed_words(id, 16, 100) == -1);
    CHECK_STATUS(qs_pack_codes(id, c32.data(), 17, 64, w.data()), QS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(qs_pack_codes(id, c32.data(), 16, 72, w.data()), QS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(qs_unpack_codes(id, w.data(), 16, 72, c32.data()), QS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(qs_pack_codes(id, nullptr, 16, 64, w.data()), QS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(qs_unpack_codes(id, w.data(), 16, 64, nullptr), QS_ERR_INVALID_ARGUMENT);
  }
  CHECK(qs_packed_words(9, 16, 64) == -1);
  CHECK(std::strstr(qs_last_error(), "17") != nullptr);
  CHECK_STATUS(qs_pack_codes(9, c32.data(), 16, 64, w.data()), QS_ERR_INVALID_ARGUMENT);
  // Codes outside the codebook's range.
  std::vector<uint32_t> bad(16 * 8, 0);
  bad[5] = 0x10000u;
  CHECK_STATUS(qs_pack_codes(QS_CODEBOOK_E8P12, bad.data(), 16, 64, w.data()),
               QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "codes[5]") != nullptr);
  bad[5] = 0x00000100u;
  CHECK_STATUS(qs_pack_codes(QS_CODEBOOK_E8P12RVQ3B, bad.data(), 16, 64, w.data()),
               QS_ERR_INVALID_ARGUMENT);
  CHECK_OK(qs_pack_codes(QS_CODEBOOK_E8P12RVQ4B, bad.data(), 16, 64, w.data()));
  CHECK(qs_packed_words(QS_CODEBOOK_E8P12, 16, 64) == 32);
  CHECK(qs_last_error()[0] == '\0');
}

}  // namespace

int main() {
  test_bit_positions();
  test_round_trips();
  test_errors();
  TEST_MAIN_END();
}
