// E8P12 codebook (QUIPSHARP.md §3): table construction, decode (§3.4) and the exact encoder (§3.5).
#include "quant/e8p12.hpp"

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace qs {
namespace {

// §3.2 padding rows 227..255: the 0-based coordinates holding 1/2 (the other five hold 3/2).
constexpr int kPaddingHalves[29][3] = {
    {1, 2, 3}, {0, 2, 3}, {0, 1, 3}, {0, 1, 2}, {3, 6, 7}, {3, 5, 7}, {3, 4, 7}, {3, 5, 6},
    {3, 4, 6}, {3, 4, 5}, {2, 6, 7}, {2, 5, 7}, {2, 4, 7}, {2, 5, 6}, {2, 4, 6}, {2, 4, 5},
    {1, 6, 7}, {1, 5, 7}, {1, 4, 7}, {1, 5, 6}, {1, 4, 6}, {0, 4, 5}, {0, 6, 7}, {0, 5, 7},
    {0, 4, 7}, {0, 5, 6}, {0, 4, 6}, {0, 1, 4}, {2, 3, 7}};

E8pTables build_tables() {
  E8pTables t;
  std::memset(&t, 0, sizeof t);
  // Integer form tt = 2*S (odd numbers) first; rows 0..226 are the t in {1,3,5,7}^8 with sum t^2 <=
  // 40 in ascending lexicographic order (coordinate 0 most significant): counting i upwards in base
  // 4 with digit 0 of coordinate 0 most significant enumerates exactly that order.
  int tt[kE8pRows][kE8pDim];
  int rows = 0;
  for (int i = 0; i < (1 << 16); ++i) {
    int v[kE8pDim];
    int norm = 0;
    for (int j = 0; j < kE8pDim; ++j) {
      v[j] = 2 * ((i >> (2 * (kE8pDim - 1 - j))) & 3) + 1;
      norm += v[j] * v[j];
    }
    if (norm > 40) continue;
    if (rows >= 227) fail(QS_ERR_INTERNAL, "E8P table: more than 227 rows of norm^2 <= 10");
    std::memcpy(tt[rows], v, sizeof v);
    ++rows;
  }
  if (rows != 227)
    fail(QS_ERR_INTERNAL, "E8P table: ", rows, " rows of norm^2 <= 10, expected 227");
  for (int p = 0; p < 29; ++p, ++rows) {
    for (int j = 0; j < kE8pDim; ++j) tt[rows][j] = 3;
    for (int h = 0; h < 3; ++h) tt[rows][kPaddingHalves[p][h]] = 1;
  }
  for (int k = 0; k < kE8pRows; ++k) {
    int sum_t = 0, norm_t = 0;
    for (int j = 0; j < kE8pDim; ++j) {
      sum_t += tt[k][j];
      norm_t += tt[k][j] * tt[k][j];
    }
    // sum(S) = sum_t / 2 is an integer (eight odd t's); B[k][7] is negated when it is odd (§3.3).
    t.odd[k] = static_cast<uint8_t>((sum_t / 2) & 1);
    t.norm2[k] = static_cast<float>(norm_t) * 0.25f;
    uint32_t word = 0;
    for (int j = 0; j < kE8pDim; ++j) {
      t.abs[k][j] = static_cast<float>(tt[k][j]) * 0.5f;
      const int signed_t = (j == 7 && t.odd[k]) ? -tt[k][j] : tt[k][j];
      t.signed_base[k][j] = static_cast<float>(signed_t) * 0.5f;
    }
    // Nibble of slot p = 2*B[k][pi(p)] + 8.
    for (int p = 0; p < kE8pDim; ++p) {
      const int j = kE8pSlotCoord[p];
      const int signed_t = (j == 7 && t.odd[k]) ? -tt[k][j] : tt[k][j];
      word |= static_cast<uint32_t>(signed_t + 8) << (4 * p);
    }
    t.packed[k] = word;
  }
  return t;
}

// ---- encoder ----------------------------------------------------------------------------------
//
// §3.5, for one shift sigma: with y = x - sigma and a_j = |y_j|, row k with its best signs costs
//     ||y||^2 - 2 sum_j a_j S_kj + ||S_k||^2   (+ 4 min_j a_j S_kj if the flip count is odd),
// where the flip-count parity is parity(#{j : y_j < 0}) XOR odd_k. The encoder returns the minimum
// of this over both shifts and all 256 rows, as §3.5 does, without visiting every row.
//
// Rows 0..226 are *all* t in {1,3,5,7}^8 with sum t^2 <= 40, a set closed under permuting
// coordinates. It splits into 7 orbits (multisets of t); ||S_k||^2 and odd_k are constant on each.
// Within an orbit the cost is minimised by pairing |y| sorted descending with the orbit's entries
// sorted descending (rearrangement inequality). With the odd-flip penalty the cost is
//     -2 sum_{j != j*} a_j s_j + 2 a_j* s_j*;
// moving the flipped coordinate j* (with its entry) to one of smaller a never increases it, so j*
// is the coordinate of the smallest a_j and takes the smallest entry: the same sorted pairing, plus
// 4 a_min s_min. One orbit thus costs eight multiply-adds once |y| is sorted.
//
// The 29 padding rows are part of one orbit, (3/2)^5 (1/2)^3. Its full-orbit value is a lower
// bound, and only when that bound beats the best complete orbit are the padding rows evaluated one
// by one with the general formula. Every candidate is one of the 2 x 256 (shift, row) pairs of
// §3.5, so the result is the exact nearest codeword (ties broken arbitrarily). ||x||^2 is common to
// all candidates and is dropped: ||y||^2 - ||x||^2 = 8 sigma^2 - 2 sigma sum x.

constexpr int kMaxOrbits = 8;
constexpr int kMaxPartialRows = 64;
constexpr int kBase3 = 6561;  // 3^8: t_j in {1,3,5} as base-3 digits (7 never occurs)
constexpr float kNeverWins = 1e30f;

struct EncodeTables {
  // Orbit costs over the (padded) orbit axis, for |y| sorted descending as v:
  //   cost[o] = offset + base_norm2[o] - sum(v) - 2 sum_i v_i w[i][o] + pen[parity][o] v_7,
  // with w = (orbit's sorted S) - 1/2; the 1/2 part of the dot product is the -sum(v) term.
  alignas(16) float w[kE8pDim][kMaxOrbits];
  alignas(16) float base_norm2[kMaxOrbits];  // N_o, or kNeverWins for unused slots
  alignas(16) float pen[2][kMaxOrbits];      // 4 s_min if parity(#neg) != odd_o, else 0
  int num_orbits;
  int t_sorted[kMaxOrbits][kE8pDim];  // the orbit's t, descending
  float s_sorted[kMaxOrbits][kE8pDim];
  float norm2[kMaxOrbits];
  uint8_t odd[kMaxOrbits];
  uint8_t complete[kMaxOrbits];  // every permutation of the multiset is a row
  int num_partial;  // rows of incomplete orbits, evaluated one by one, grouped by orbit
  int16_t partial_row[kMaxPartialRows];
  int num_groups;  // group g: rows [group_begin[g], group_begin[g + 1]) of orbit group_orbit[g]
  int group_orbit[kMaxOrbits];
  int group_begin[kMaxOrbits + 1];
  int16_t row_of[kBase3];  // base-3 index of t -> row of S, -1 if none
};

int base3_index(const int* t) {
  int index = 0;
  for (int j = 0; j < kE8pDim; ++j) index = index * 3 + (t[j] - 1) / 2;
  return index;
}

EncodeTables build_encode_tables(const E8pTables& tab) {
  EncodeTables e;
  std::memset(&e, 0, sizeof e);
  for (int i = 0; i < kBase3; ++i) e.row_of[i] = -1;
  int orbit_of_row[kE8pRows];
  int orbit_rows[kMaxOrbits] = {0};
  for (int k = 0; k < kE8pRows; ++k) {
    int t[kE8pDim];
    for (int j = 0; j < kE8pDim; ++j) {
      t[j] = static_cast<int>(tab.abs[k][j] * 2.0f);
      if (t[j] != 1 && t[j] != 3 && t[j] != 5) fail(QS_ERR_INTERNAL, "E8P encoder: S entry ", t[j]);
    }
    e.row_of[base3_index(t)] = static_cast<int16_t>(k);
    int sorted[kE8pDim];
    std::memcpy(sorted, t, sizeof t);
    for (int i = 1; i < kE8pDim; ++i)  // insertion sort, descending
      for (int m = i; m > 0 && sorted[m - 1] < sorted[m]; --m) std::swap(sorted[m - 1], sorted[m]);
    int o = 0;
    while (o < e.num_orbits && std::memcmp(e.t_sorted[o], sorted, sizeof sorted) != 0) ++o;
    if (o == e.num_orbits) {
      if (o == kMaxOrbits) fail(QS_ERR_INTERNAL, "E8P encoder: more than ", kMaxOrbits, " orbits");
      std::memcpy(e.t_sorted[o], sorted, sizeof sorted);
      for (int i = 0; i < kE8pDim; ++i) e.s_sorted[o][i] = 0.5f * static_cast<float>(sorted[i]);
      e.norm2[o] = tab.norm2[k];
      e.odd[o] = tab.odd[k];
      ++e.num_orbits;
    }
    orbit_of_row[k] = o;
    ++orbit_rows[o];
  }
  for (int o = 0; o < e.num_orbits; ++o) {
    // Distinct permutations of the multiset: 8! / prod(multiplicity!).
    int perms = 40320;
    for (int i = 0; i < kE8pDim;) {
      int m = i;
      while (m < kE8pDim && e.t_sorted[o][m] == e.t_sorted[o][i]) ++m;
      for (int f = 2; f <= m - i; ++f) perms /= f;
      i = m;
    }
    e.complete[o] = orbit_rows[o] == perms;
  }
  for (int o = 0; o < kMaxOrbits; ++o) {
    const bool used = o < e.num_orbits;
    e.base_norm2[o] = used ? e.norm2[o] : kNeverWins;
    for (int i = 0; i < kE8pDim; ++i) e.w[i][o] = used ? e.s_sorted[o][i] - 0.5f : 0.0f;
    for (int parity = 0; parity < 2; ++parity)
      e.pen[parity][o] = (used && parity != e.odd[o]) ? 4.0f * e.s_sorted[o][kE8pDim - 1] : 0.0f;
    if (used && e.s_sorted[o][kE8pDim - 1] != 0.5f)
      fail(QS_ERR_INTERNAL, "E8P encoder: orbit ", o, " has no entry 1/2");
  }
  for (int o = 0; o < e.num_orbits; ++o) {
    if (e.complete[o]) continue;
    e.group_orbit[e.num_groups] = o;
    e.group_begin[e.num_groups] = e.num_partial;
    ++e.num_groups;
    for (int k = 0; k < kE8pRows; ++k) {
      if (orbit_of_row[k] != o) continue;
      if (e.num_partial == kMaxPartialRows)
        fail(QS_ERR_INTERNAL, "E8P encoder: too many partial rows");
      e.partial_row[e.num_partial] = static_cast<int16_t>(k);
      ++e.num_partial;
    }
  }
  e.group_begin[e.num_groups] = e.num_partial;
  return e;
}

const EncodeTables& encode_tables() {
  static const EncodeTables e = build_encode_tables(e8p_tables());
  return e;
}

// Compare-exchange: p <- max, q <- min (branch-free: maxss/minss, cmov).
template <typename T>
inline void sort_pair(T& p, T& q) {
  const T hi = p < q ? q : p;
  // A comparison of its own, so that the compiler emits min/max instead of a branch.
  const T lo = q < p ? q : p;
  p = hi;
  q = lo;
}

// Descending sort of 8 values: the optimal 19-comparator network (verified by the 0-1 principle).
template <typename T>
inline void sort8_desc(T* v) {
  // clang-format off
  sort_pair(v[0], v[2]); sort_pair(v[1], v[3]); sort_pair(v[4], v[6]); sort_pair(v[5], v[7]);
  sort_pair(v[0], v[4]); sort_pair(v[1], v[5]); sort_pair(v[2], v[6]); sort_pair(v[3], v[7]);
  sort_pair(v[0], v[1]); sort_pair(v[2], v[3]); sort_pair(v[4], v[5]); sort_pair(v[6], v[7]);
  sort_pair(v[2], v[4]); sort_pair(v[3], v[5]);
  sort_pair(v[1], v[4]); sort_pair(v[3], v[6]);
  sort_pair(v[1], v[2]); sort_pair(v[3], v[4]); sort_pair(v[5], v[6]);
  // clang-format on
}

// Coordinates ordered by a descending (ties by index): keys (bits(a_j) << 32 | 7 - j) through the
// same network; a_j >= 0, so the float bit patterns order like the values.
inline void argsort8_desc(const float* a, int* order) {
  uint64_t key[kE8pDim];
  for (int j = 0; j < kE8pDim; ++j) {
    uint32_t bits;
    std::memcpy(&bits, &a[j], sizeof bits);
    key[j] = (static_cast<uint64_t>(bits) << 32) | static_cast<uint64_t>(kE8pDim - 1 - j);
  }
  sort8_desc(key);
  for (int i = 0; i < kE8pDim; ++i) order[i] = kE8pDim - 1 - static_cast<int>(key[i] & 0xFF);
}

}  // namespace

const E8pTables& e8p_tables() {
  static const E8pTables t = build_tables();
  return t;
}

void e8p_decode_one(uint16_t code, float* out) {
  const E8pTables& t = e8p_tables();
  const int k = code >> 8;
  const unsigned r = code & 0xFFu;
  const unsigned parity = parity8(r);
  const unsigned e = r ^ parity;  // effective flips; only bit 0 changes
  const float shift = parity ? -0.25f : 0.25f;
  for (int p = 0; p < kE8pDim; ++p) {
    const int j = kE8pSlotCoord[p];
    const float v = t.signed_base[k][j];
    out[j] = (((e >> p) & 1u) ? -v : v) + shift;
  }
}

const int8_t* e8p_times4_table() {
  static const std::vector<int8_t> table = [] {
    std::vector<int8_t> t(65536 * 8);
    float v[8];
    for (int c = 0; c < 65536; ++c) {
      e8p_decode_one(static_cast<uint16_t>(c), v);
      for (int j = 0; j < 8; ++j) t[c * 8 + j] = static_cast<int8_t>(std::lrint(4.0f * v[j]));
    }
    return t;
  }();
  return table.data();
}

void e8p_decode(const uint16_t* codes, int64_t count, float* out) {
  for (int64_t i = 0; i < count; ++i) e8p_decode_one(codes[i], out + 8 * i);
}

uint16_t e8p_encode_one(const float* x, float* out) {
  const E8pTables& t = e8p_tables();
  const EncodeTables& e = encode_tables();

  float a[2][kE8pDim];
  float offset[2];
  int neg_parity[2];
  alignas(16) float orbit_cost[2][kMaxOrbits];
  float sum_x = 0.0f;
  for (int j = 0; j < kE8pDim; ++j) sum_x += x[j];

  for (int shift = 0; shift < 2; ++shift) {
    const float sigma = shift ? -0.25f : 0.25f;
    int negatives = 0;
    float v[kE8pDim];
    for (int j = 0; j < kE8pDim; ++j) {
      const float y = x[j] - sigma;
      a[shift][j] = std::fabs(y);
      v[j] = a[shift][j];
      negatives += y < 0.0f;
    }
    neg_parity[shift] = negatives & 1;
    offset[shift] = 0.5f - 2.0f * sigma * sum_x;
    sort8_desc(v);
    float sum_a = 0.0f;
    for (int i = 0; i < kE8pDim; ++i) sum_a += v[i];
    float* cost = orbit_cost[shift];
    const float* pen = e.pen[neg_parity[shift]];
    for (int o = 0; o < kMaxOrbits; ++o)
      cost[o] = offset[shift] + e.base_norm2[o] - sum_a + pen[o] * v[7];
    for (int i = 0; i < kE8pDim - 1; ++i) {  // w[7][o] = s_min - 1/2 = 0 (checked at build)
      const float v2 = 2.0f * v[i];
      for (int o = 0; o < kMaxOrbits; ++o) cost[o] -= v2 * e.w[i][o];
    }
  }

  float best = 0.0f;
  int best_shift = -1, best_orbit = 0, best_row = -1;
  for (int shift = 0; shift < 2; ++shift) {
    for (int o = 0; o < e.num_orbits; ++o) {
      const float c = orbit_cost[shift][o];
      const bool take = e.complete[o] && (best_shift < 0 || c < best);
      best = take ? c : best;
      best_orbit = take ? o : best_orbit;
      best_shift = take ? shift : best_shift;
    }
  }
  // Rows of incomplete orbits, only where the orbit's bound can win.
  for (int shift = 0; shift < 2; ++shift) {
    for (int g = 0; g < e.num_groups; ++g) {
      if (orbit_cost[shift][e.group_orbit[g]] < best) {
        for (int i = e.group_begin[g]; i < e.group_begin[g + 1]; ++i) {
          const int k = e.partial_row[i];
          float dot = 0.0f, min_prod = 0.0f;
          for (int j = 0; j < kE8pDim; ++j) {
            const float p = a[shift][j] * t.abs[k][j];
            dot += p;
            min_prod = (j == 0 || p < min_prod) ? p : min_prod;
          }
          float c = offset[shift] + t.norm2[k] - 2.0f * dot;
          if (neg_parity[shift] != t.odd[k]) c += 4.0f * min_prod;
          if (c < best) {
            best = c;
            best_shift = shift;
            best_row = k;
          }
        }
      }
    }
  }

  if (best_row < 0) {
    // A complete orbit won: the coordinate of rank i (by a, descending) takes the orbit's t_i.
    int order[kE8pDim];
    argsort8_desc(a[best_shift], order);
    int tv[kE8pDim];
    for (int i = 0; i < kE8pDim; ++i) tv[order[i]] = e.t_sorted[best_orbit][i];
    best_row = e.row_of[base3_index(tv)];
    if (best_row < 0) best_row = 0;  // unreachable: a complete orbit holds every permutation
  }

  // Flips of the winning (shift, row): f_j = [sign(y_j) != sign(B[k][j])] with sign(0) = +, and the
  // cheapest coordinate toggled if their count is odd.
  const float sigma = best_shift ? -0.25f : 0.25f;
  const int k = best_row;
  unsigned f = 0;
  float min_prod = 0.0f;
  int min_j = 0;
  for (int j = 0; j < kE8pDim; ++j) {
    const float y = x[j] - sigma;
    const bool flip = (y < 0.0f) != (t.signed_base[k][j] < 0.0f);
    f |= static_cast<unsigned>(flip) << j;
    const float prod = std::fabs(y) * t.abs[k][j];
    if (j == 0 || prod < min_prod) {
      min_prod = prod;
      min_j = j;
    }
  }
  if (parity8(f)) f ^= 1u << min_j;
  unsigned r = 0;
  for (int p = 0; p < kE8pDim; ++p) r |= ((f >> kE8pSlotCoord[p]) & 1u) << p;
  r ^= static_cast<unsigned>(best_shift);  // bit 0 carries the shift: popcount(r) mod 2 = P
  const uint16_t code = static_cast<uint16_t>((k << 8) | r);
  if (out != nullptr) e8p_decode_one(code, out);
  return code;
}

void e8p_encode(const float* x, int64_t count, uint16_t* codes, float* out) {
  for (int64_t i = 0; i < count; ++i)
    codes[i] = e8p_encode_one(x + 8 * i, out != nullptr ? out + 8 * i : nullptr);
}

}  // namespace qs

// ---- C boundary -------------------------------------------------------------------------------

extern "C" int32_t qs_e8p_abs_table(float* out) {
  return qs::guard([&] {
    qs::require_not_null(out, "out");
    std::memcpy(out, qs::e8p_tables().abs, sizeof(float) * qs::kE8pRows * qs::kE8pDim);
  });
}

extern "C" int32_t qs_e8p_packed_table(int32_t* out) {
  return qs::guard([&] {
    qs::require_not_null(out, "out");
    const qs::E8pTables& t = qs::e8p_tables();
    for (int k = 0; k < qs::kE8pRows; ++k) out[k] = static_cast<int32_t>(t.packed[k]);
  });
}

extern "C" int32_t qs_e8p_decode(const uint16_t* codes, int64_t count, float* out) {
  return qs::guard([&] {
    qs::require_count(count, "count");
    qs::require_buffer(codes, count, "codes");
    qs::require_buffer(out, count, "out");
    qs::e8p_decode(codes, count, out);
  });
}

extern "C" int32_t qs_e8p_encode(const float* x, int64_t count, uint16_t* codes, float* out) {
  return qs::guard([&] {
    qs::require_count(count, "count");
    qs::require_buffer(x, count, "x");
    qs::require_buffer(codes, count, "codes");
    qs::require_finite(x, 8 * count, "x");
    qs::e8p_encode(x, count, codes, out);
  });
}
