// Randomized Hadamard transform, §2 of shared/design/QUIPSHARP.md (written from that text only).
//
// Base matrices (§2.3) are constructed, not tabled: Paley I for 12, 20, 60, 108, 140; Paley II for 28,
// 36; Williamson circulants for 52, 116, 124, 156, 172 from the first rows of the §2.3 table. They are
// built once, on first use, into int8 tables (thread-safe function-local static).
// Exported for other native code: see hadamard.hpp.
//
// Fast transform (§2.4; the kernels are in hadamard_transform.inc, compiled once per instruction set
// by hadamard_scalar.cpp, hadamard_avx2.cpp and hadamard_avx512.cpp, see hadamard_kernels.hpp; this
// file picks one), for n = m_b * L with L = 2^k and a vector viewed as the m_b x L row-major X:
//   1. radix-2 Walsh butterflies on every row of X (natural Sylvester order, no bit reversal), done
//      as radix-4 passes (two stages per sweep) and blocked so that the early stages stay in cache;
//   2. for m_b > 1, Y = H X (or H^T X) on tiles of columns of X: a register-blocked micro-kernel
//      accumulates 4 output rows x 8 floats (4 doubles) while streaming the m_b input rows, the
//      inner loop running over the contiguous L axis; the ±1 coefficients come from per-type packed
//      copies of the int8 tables, built on first use of each base;
//   3. one multiplication by 1/sqrt(n).
// Column transforms (the vectors are the columns of a row-major matrix) run the same steps on a
// chunk of columns at a time, the innermost loop running over the contiguous columns of the chunk.
// Input values are not checked: NaN / Inf simply propagate.
//
// Random signs (qs_random_signs), exactly:
//   mix64(z):  z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
//              z ^= z >> 31                                  (all arithmetic mod 2^64)
//   state  = mix64(seed ^ mix64(stream + 0x9E3779B97F4A7C15))
//   for i = 0 .. n-1:  state += 0x9E3779B97F4A7C15;  z = mix64(state);
//                      out[i] = (z >> 63) ? -1 : +1
// i.e. a plain splitmix64 stream (bit 63 of each output word) whose starting state is a hash of
// (seed, stream). The hash matters: a starting state linear in (seed, stream), such as
// seed ^ stream * 0x9E3779B97F4A7C15, makes stream 2 of seed 0 the stream-1 sequence shifted by one.
#include "kernels/hadamard.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <sstream>
#include <utility>

#include "common/status.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/hadamard_kernels.hpp"

namespace qs {
namespace {

// ---- base matrices (§2.3) -------------------------------------------------------------------------

int base_index(int64_t m) {
  for (int i = 0; i < kHadamardBaseCount; ++i)
    if (kHadamardBaseOrders[i] == m) return i;
  return -1;
}

// Quadratic character mod the prime q by Euler's criterion: a^((q-1)/2) mod q.
int chi(int64_t a, int64_t q) {
  a %= q;
  if (a < 0) a += q;
  if (a == 0) return 0;
  int64_t result = 1, base = a, e = (q - 1) / 2;
  while (e > 0) {
    if (e & 1) result = result * base % q;
    base = base * base % q;
    e >>= 1;
  }
  return result == 1 ? 1 : -1;
}

std::vector<int8_t> paley1(int64_t q) {
  const int64_t m = q + 1;
  std::vector<int8_t> h(static_cast<size_t>(m * m));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      int v;
      if (i == 0)
        v = (j == 0) ? 1 : -1;
      else if (j == 0)
        v = 1;
      else
        v = (i == j ? 1 : 0) + chi((i - 1) - (j - 1), q);
      h[static_cast<size_t>(i * m + j)] = static_cast<int8_t>(v);
    }
  }
  return h;
}

std::vector<int8_t> paley2(int64_t q) {
  const int64_t c = q + 1, m = 2 * c;
  auto conf = [q](int64_t i, int64_t j) -> int {
    if (i == 0 && j == 0) return 0;
    if (i == 0 || j == 0) return 1;
    return chi((i - 1) - (j - 1), q);
  };
  std::vector<int8_t> h(static_cast<size_t>(m * m));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      const int64_t bi = i / c, bj = j / c, ii = i % c, jj = j % c;
      const int cv = conf(ii, jj), id = (ii == jj) ? 1 : 0;
      int v;
      if (bi == 0 && bj == 0)
        v = cv + id;  // C + I
      else if (bi == 1 && bj == 1)
        v = -cv - id;  // -C - I
      else
        v = cv - id;  // C - I
      h[static_cast<size_t>(i * m + j)] = static_cast<int8_t>(v);
    }
  }
  return h;
}

// First rows of the Williamson circulants A, B, C, D (§2.3 table; '+' = +1, '-' = -1).
struct WilliamsonRows {
  int32_t m;
  const char* a;
  const char* b;
  const char* c;
  const char* d;
};

constexpr const char* kW124A = "+--+++-+--+----++----+--+-+++--";

constexpr WilliamsonRows kWilliamson[] = {
    {52, "+-+--++++--+-", "+---++++++---", "++-+--++--+-+", "+----+--+----"},
    {116, "++--+--+-+++-++++-+++-+--+--+", "++++-++-+---++++++---+-++-+++",
     "+-+---++--+-++++++-+--++---+-", "+++---++--+-+----+-+--++---++"},
    {124, kW124A, kW124A, "+-----+++-+-+--++--+-+-+++-----", "++++++---+-+-++--++-+-+---+++++"},
    {156, "+++--+-+-----+--++----++--+-----+-+--++", "++++---+--++----+-+--+-+----++--+---+++",
     "+++--++-+---+-+--+----+--+-+---+-++--++", "+---++-+-+-----+++-++-+++-----+-+-++---"},
    {172, "+---++--++++-+-+++-++--++-+++-+-++++--++---", "++-++++++----+-+--++-++-++--+-+----++++++-+",
     "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++", "++---++++-+--+--++--------++--+--+-++++---+"},
};

std::vector<int8_t> williamson(const WilliamsonRows& w) {
  const int64_t t = static_cast<int64_t>(std::strlen(w.a)), m = 4 * t;
  if (m != w.m) fail(QS_ERR_INTERNAL, "Williamson table for order ", w.m, " has rows of length ", t);
  const char* rows[4] = {w.a, w.b, w.c, w.d};
  // Block layout: entry (block row, block col) -> (which circulant, sign).
  static const int kWhich[4][4] = {{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
  static const int kSign[4][4] = {{1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
  std::vector<int8_t> h(static_cast<size_t>(m * m));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < m; ++j) {
      const int64_t bi = i / t, bj = j / t, ii = i % t, jj = j % t;
      // Circulant: row ii is the first row shifted right by ii, so entry (ii, jj) = first[(jj - ii) mod t].
      const char ch = rows[kWhich[bi][bj]][((jj - ii) % t + t) % t];
      const int v = (ch == '+') ? 1 : -1;
      h[static_cast<size_t>(i * m + j)] = static_cast<int8_t>(kSign[bi][bj] * v);
    }
  }
  return h;
}

using hadamard::kRowBlock;

// Coefficients of K (= H or H^T, order m % kRowBlock == 0) as T, packed for the micro-kernel:
// packed[(a0 / 4) * 4m + 4c + r] = K[a0 + r][c].
template <typename T>
std::vector<T> pack_coefficients(const std::vector<int8_t>& k, int32_t m) {
  std::vector<T> p(k.size());
  for (int32_t a0 = 0; a0 < m; a0 += kRowBlock)
    for (int32_t c = 0; c < m; ++c)
      for (int32_t r = 0; r < kRowBlock; ++r)
        p[static_cast<size_t>(a0) * m + static_cast<size_t>(c) * kRowBlock + r] =
            static_cast<T>(k[static_cast<size_t>(a0 + r) * m + c]);
  return p;
}

struct BaseTables {
  std::vector<int8_t> h[kHadamardBaseCount];
  std::vector<int8_t> ht[kHadamardBaseCount];

  BaseTables() {
    for (int i = 0; i < kHadamardBaseCount; ++i) {
      const int32_t m = kHadamardBaseOrders[i];
      std::vector<int8_t> mat;
      switch (m) {
        case 1: mat = {1}; break;
        case 12: case 20: case 60: case 108: case 140: mat = paley1(m - 1); break;
        case 28: case 36: mat = paley2(m / 2 - 1); break;
        default:
          for (const auto& w : kWilliamson)
            if (w.m == m) mat = williamson(w);
          break;
      }
      if (mat.size() != static_cast<size_t>(m) * static_cast<size_t>(m))
        fail(QS_ERR_INTERNAL, "no construction for Hadamard base order ", m);
      std::vector<int8_t> tr(mat.size());
      for (int32_t r = 0; r < m; ++r)
        for (int32_t c = 0; c < m; ++c)
          tr[static_cast<size_t>(c) * m + r] = mat[static_cast<size_t>(r) * m + c];
      h[i] = std::move(mat);
      ht[i] = std::move(tr);
    }
  }
};

const BaseTables& tables() {
  static const BaseTables t;
  return t;
}

// Packed coefficients of H_m (transpose = false) or H_m^T as T, built on first use of each (base, T).
template <typename T>
struct PackedTables {
  std::once_flag once[kHadamardBaseCount];
  std::vector<T> k[kHadamardBaseCount][2];
};

}  // namespace

namespace hadamard {

template <typename T>
const T* packed_coefficients(int32_t m, bool transpose) {
  static PackedTables<T> packed;
  const int i = base_index(m);
  std::call_once(packed.once[i], [&] {
    packed.k[i][0] = pack_coefficients<T>(tables().h[i], m);
    packed.k[i][1] = pack_coefficients<T>(tables().ht[i], m);
  });
  return packed.k[i][transpose ? 1 : 0].data();
}

template const float* packed_coefficients<float>(int32_t m, bool transpose);
template const double* packed_coefficients<double>(int32_t m, bool transpose);

}  // namespace hadamard

namespace {

// The transforms run the kernel family kernels/cpu_features.hpp selects (all give the same bits; the
// tests force each with qs_cpu_force_kernel).

// Every vector x + v*n (v < batch), with optional sign vectors applied before (pre) / after (post).
template <typename T>
void transform_rows(T* x, int64_t batch, int64_t n, bool transpose, const T* pre, const T* post) {
#ifdef QS_X86
  const int32_t k = kernel_for_auto();
  if (k == QS_KERNEL_AVX512) return hadamard::transform_rows_avx512(x, batch, n, transpose, pre, post);
  if (k == QS_KERNEL_AVX2) return hadamard::transform_rows_avx2(x, batch, n, transpose, pre, post);
#endif
  hadamard::transform_rows_scalar(x, batch, n, transpose, pre, post);
}

// Every column of the row-major n x cols matrix x.
template <typename T>
void transform_cols(T* x, int64_t n, int64_t cols, bool transpose, const T* pre, const T* post) {
#ifdef QS_X86
  const int32_t k = kernel_for_auto();
  if (k == QS_KERNEL_AVX512) return hadamard::transform_cols_avx512(x, n, cols, transpose, pre, post);
  if (k == QS_KERNEL_AVX2) return hadamard::transform_cols_avx2(x, n, cols, transpose, pre, post);
#endif
  hadamard::transform_cols_scalar(x, n, cols, transpose, pre, post);
}

// ---- dense matrix and signs -----------------------------------------------------------------------

int popcount64(uint64_t v) {
  int c = 0;
  while (v) {
    v &= v - 1;
    ++c;
  }
  return c;
}

template <typename T>
void dense(int64_t n, T* out) {
  const int32_t mb = hadamard_base_order(n);
  const int64_t L = n / mb;
  const int8_t* h = hadamard_base(mb);
  const double scale = 1.0 / std::sqrt(static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t a = i / L, b = i % L;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t c = j / L, d = j % L;
      const int sylvester = (popcount64(static_cast<uint64_t>(b & d)) & 1) ? -1 : 1;
      out[i * n + j] = static_cast<T>(h[a * mb + c] * sylvester * scale);
    }
  }
}

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ULL;

uint64_t mix64(uint64_t z) {
  z ^= z >> 30;
  z *= 0xBF58476D1CE4E5B9ULL;
  z ^= z >> 27;
  z *= 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return z;
}

template <typename T>
void signs_impl(int64_t n, uint64_t seed, uint64_t stream, T* out) {
  uint64_t state = mix64(seed ^ mix64(stream + kGolden));
  for (int64_t i = 0; i < n; ++i) {
    state += kGolden;
    out[i] = (mix64(state) >> 63) ? T(-1) : T(1);
  }
}

template <typename T>
void rht_impl(T* a, int64_t rows, int64_t cols, int axis, const T* signs, bool inverse) {
  if (axis == 1) {
    if (inverse)
      transform_rows(a, rows, cols, false, static_cast<const T*>(nullptr), signs);
    else
      transform_rows(a, rows, cols, true, signs, static_cast<const T*>(nullptr));
  } else {
    if (inverse)
      transform_cols(a, rows, cols, false, static_cast<const T*>(nullptr), signs);
    else
      transform_cols(a, rows, cols, true, signs, static_cast<const T*>(nullptr));
  }
}

// ---- argument checks for the C boundary -----------------------------------------------------------

void require_flag(int32_t v, const char* name) {
  require(v == 0 || v == 1, name, " = ", v, " must be 0 or 1");
}

void require_batch(int64_t batch, int64_t n, const char* name) {
  require(batch >= 0, name, " = ", batch, " must be >= 0");
  require(n <= 0 || batch <= std::numeric_limits<int64_t>::max() / n, name, " = ", batch, " times n = ",
          n, " overflows int64");
}

}  // namespace

// ---- internal API ---------------------------------------------------------------------------------

bool is_hadamard_base(int64_t m) { return base_index(m) >= 0; }

const int8_t* hadamard_base(int64_t m) {
  const int i = base_index(m);
  return i < 0 ? nullptr : tables().h[i].data();
}

const int8_t* hadamard_base_transposed(int64_t m) {
  const int i = base_index(m);
  return i < 0 ? nullptr : tables().ht[i].data();
}

std::string unsupported_order_message(const char* name, int64_t n) {
  std::ostringstream os;
  if (n <= 0) {
    os << name << " = " << n << " must be positive";
    return os.str();
  }
  os << name << " = " << n << " is not a supported Hadamard order: " << name << " must be m*2^k with m in {";
  for (int i = 0; i < kHadamardBaseCount; ++i) os << (i ? "," : "") << kHadamardBaseOrders[i];
  os << "}";
  const std::vector<int64_t> near = nearby_supported_orders(n);
  if (!near.empty()) {
    os << "; nearest supported: ";
    for (size_t i = 0; i < near.size(); ++i) os << (i ? ", " : "") << near[i];
  }
  return os.str();
}

int32_t require_hadamard_order(int64_t n, const char* name) {
  const int32_t mb = hadamard_base_order(n);
  if (mb == 0) throw Error(QS_ERR_INVALID_ARGUMENT, unsupported_order_message(name, n));
  return mb;
}

void hadamard_transform(float* x, int64_t batch, int64_t n, bool transpose) {
  transform_rows<float>(x, batch, n, transpose, nullptr, nullptr);
}
void hadamard_transform(double* x, int64_t batch, int64_t n, bool transpose) {
  transform_rows<double>(x, batch, n, transpose, nullptr, nullptr);
}
void hadamard_transform_columns(float* x, int64_t n, int64_t cols, bool transpose) {
  transform_cols<float>(x, n, cols, transpose, nullptr, nullptr);
}
void hadamard_transform_columns(double* x, int64_t n, int64_t cols, bool transpose) {
  transform_cols<double>(x, n, cols, transpose, nullptr, nullptr);
}
void hadamard_matrix_dense(int64_t n, float* out) { dense(n, out); }
void hadamard_matrix_dense(int64_t n, double* out) { dense(n, out); }
void random_signs(int64_t n, uint64_t seed, uint64_t stream, float* out) { signs_impl(n, seed, stream, out); }
void random_signs(int64_t n, uint64_t seed, uint64_t stream, double* out) { signs_impl(n, seed, stream, out); }
void rht_apply(float* a, int64_t rows, int64_t cols, int axis, const float* signs, bool inverse) {
  rht_impl(a, rows, cols, axis, signs, inverse);
}
void rht_apply(double* a, int64_t rows, int64_t cols, int axis, const double* signs, bool inverse) {
  rht_impl(a, rows, cols, axis, signs, inverse);
}

}  // namespace qs

// ---- C boundary -----------------------------------------------------------------------------------

extern "C" {

QS_API int32_t qs_hadamard_base_order(int64_t n) { return qs::hadamard_base_order(n); }

QS_API int32_t qs_hadamard_base_matrix(int32_t m, int8_t* out) {
  return qs::guard([&] {
    if (!qs::is_hadamard_base(m))
      qs::fail(QS_ERR_INVALID_ARGUMENT, "m = ", m,
               " is not a Hadamard base order: m must be one of {1,12,20,28,36,52,60,108,116,124,140,156,172}");
    qs::require_not_null(out, "out");
    std::memcpy(out, qs::hadamard_base(m), static_cast<size_t>(m) * static_cast<size_t>(m));
  });
}

QS_API int32_t qs_hadamard_matrix(int64_t n, float* out) {
  return qs::guard([&] {
    qs::require_hadamard_order(n, "n");
    qs::require(n <= qs::kHadamardDenseMaxOrder, "n = ", n, " is too large for a dense Hadamard matrix (n <= ",
                qs::kHadamardDenseMaxOrder, "); use qs_hadamard_transform_f32 instead");
    qs::require_not_null(out, "out");
    qs::hadamard_matrix_dense(n, out);
  });
}

QS_API int32_t qs_hadamard_transform_f32(float* x, int64_t batch, int64_t n, int32_t transpose) {
  return qs::guard([&] {
    qs::require_hadamard_order(n, "n");
    qs::require_batch(batch, n, "batch");
    qs::require_flag(transpose, "transpose");
    qs::require_not_null(x, "x");
    qs::hadamard_transform(x, batch, n, transpose != 0);
  });
}

QS_API int32_t qs_hadamard_transform_f64(double* x, int64_t batch, int64_t n, int32_t transpose) {
  return qs::guard([&] {
    qs::require_hadamard_order(n, "n");
    qs::require_batch(batch, n, "batch");
    qs::require_flag(transpose, "transpose");
    qs::require_not_null(x, "x");
    qs::hadamard_transform(x, batch, n, transpose != 0);
  });
}

QS_API int32_t qs_random_signs(int64_t n, uint64_t seed, uint64_t stream, float* out) {
  return qs::guard([&] {
    qs::require(n >= 0, "n = ", n, " must be >= 0");
    qs::require_not_null(out, "out");
    qs::random_signs(n, seed, stream, out);
  });
}

QS_API int32_t qs_rht_apply_f32(float* a, int64_t rows, int64_t cols, int32_t axis, const float* signs,
                                int32_t inverse) {
  return qs::guard([&] {
    qs::require(axis == 0 || axis == 1, "axis = ", axis, " must be 0 (columns are the vectors) or 1 (rows are)");
    qs::require_flag(inverse, "inverse");
    if (axis == 1) {
      qs::require_hadamard_order(cols, "cols");
      qs::require_batch(rows, cols, "rows");
    } else {
      qs::require_hadamard_order(rows, "rows");
      qs::require_batch(cols, rows, "cols");
    }
    qs::require_not_null(a, "a");
    qs::require_not_null(signs, "signs");
    qs::rht_apply(a, rows, cols, axis, signs, inverse != 0);
  });
}

}  // extern "C"
