// The E8P12 codebook (QUIPSHARP.md §3): 2^16 points of E8 + 1/4, a 16-bit code per 8 weights.
//
// Tables are built once, on first use (thread-safe static initialisation), from the construction
// rules of §3.2/§3.3; nothing is tabled by hand except the 29 padding rows, whose order the spec
// fixes. Functions in this header assume validated input (finite values, non-null pointers); the
// extern "C" wrappers in e8p12.cpp do the checking.
#pragma once

#include <cstdint>

namespace qs {

constexpr int kE8pRows = 256;  // rows of S / B / packed
constexpr int kE8pDim = 8;     // coordinates per code

struct E8pTables {
  float abs[kE8pRows][kE8pDim];          // S (§3.2), positive half-integers, row-major
  float signed_base[kE8pRows][kE8pDim];  // B (§3.3): S with coordinate 7 negated on odd-sum rows
  uint32_t packed[kE8pRows];             // §3.3 nibble words
  float norm2[kE8pRows];                 // ||S_k||^2
  uint8_t odd[kE8pRows];                 // 1 if sum(S_k) is odd (B[k][7] < 0)
};

// Slot permutation of §3.3: slot p holds coordinate kE8pSlotCoord[p].
constexpr int kE8pSlotCoord[kE8pDim] = {0, 2, 4, 6, 1, 3, 5, 7};

const E8pTables& e8p_tables();

// Parity of the number of set bits of an 8-bit value (portable; no compiler builtins).
constexpr unsigned parity8(unsigned v) {
  v &= 0xFFu;
  v ^= v >> 4;
  v ^= v >> 2;
  v ^= v >> 1;
  return v & 1u;
}

// §3.4: one code to 8 floats.
void e8p_decode_one(uint16_t code, float* out);
void e8p_decode(const uint16_t* codes, int64_t count, float* out);
// 4 x every codeword as int8 (odd integers in [-11, 11], so exact), 65536 x 8 = 512 KiB in code order,
// built once from e8p_decode_one: the table behind the fast decode and the integer mat-vec kernels.
const int8_t* e8p_times4_table();

// §3.5: exact nearest codeword of the unscaled codebook (ties broken arbitrarily). `out` (nullable)
// receives the decoded codeword. x must be finite.
uint16_t e8p_encode_one(const float* x, float* out);
void e8p_encode(const float* x, int64_t count, uint16_t* codes, float* out);

}  // namespace qs
