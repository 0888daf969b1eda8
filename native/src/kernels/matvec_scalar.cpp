// The scalar reference of the CPU mat-vec kernels (see matvec_kernels.hpp) and the integer tables
// every kernel reads.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common/status.hpp"
#include "kernels/matvec_kernels.hpp"
#include "quant/codebook.hpp"
#include "quant/e8p12.hpp"

namespace qs {
namespace matvec {
namespace {

template <typename Index>
void rows_scalar(const int8_t* table, const Index* idx, int64_t r0, int64_t r1, int64_t blocks,
                 const int16_t* uq, int64_t* sums) {
  for (int64_t r = r0; r < r1; ++r) {
    const Index* c = idx + r * blocks;
    int64_t s = 0;
    for (int64_t k = 0; k < blocks; ++k) s += code_dot(table, c[k], uq + k * 8);
    sums[r] = s;
  }
}

inline float weight_value(float w) { return w; }
inline float weight_value(uint16_t w) { return half_to_float(w); }

template <typename Weight>
void dense_rows(const Weight* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y) {
  for (int64_t r = r0; r < r1; ++r) {
    double s = 0;
    for (int64_t c = 0; c < n; ++c) s += static_cast<double>(weight_value(w[r * n + c])) * x[c];
    y[r] = static_cast<float>(s);
  }
}

}  // namespace

const E81bOrder& e81b_order() {
  static const E81bOrder order = [] {
    E81bOrder o{};
    const float* e = e81b_table();
    bool used[256] = {};
    int next = 0;
    for (int i = 0; i < 256; ++i) {
      bool half = true;
      int signs = 0;
      for (int j = 0; j < 8; ++j) {
        half = half && std::fabs(e[i * 8 + j]) == 0.5f;
        if (e[i * 8 + j] < 0 && j < 7) signs |= 1 << j;
      }
      const int k = half ? 128 + signs : next++;
      if (k >= 256 || used[k]) fail(QS_ERR_INTERNAL, "the E81B table does not split as §4.3 says");
      used[k] = true;
      o.to_kernel[i] = static_cast<uint8_t>(k);
      o.to_original[k] = static_cast<uint8_t>(i);
    }
    if (next != 128) fail(QS_ERR_INTERNAL, "the E81B table does not split as §4.3 says");
    return o;
  }();
  return order;
}

const IntTables& int_tables() {
  static const IntTables tables = [] {
    IntTables t;
    t.e8p = e8p_times4_table();
    const E8pTables& e8p = e8p_tables();
    for (int k = 0; k < 256; ++k) t.packed[k] = static_cast<int32_t>(e8p.packed[k]);
    t.e81b.resize(256 * 8);
    const float* e = e81b_table();
    const E81bOrder& order = e81b_order();
    for (int k = 0; k < 256; ++k)
      for (int j = 0; j < 8; ++j)
        t.e81b[k * 8 + j] = static_cast<int8_t>(std::lrint(2.0f * e[order.to_original[k] * 8 + j]));
    return t;
  }();
  return tables;
}

// uq = round(u * levels / max|u|); returns the factor that maps integer sums back (max|u| / levels).
double quantize_activation(const float* u, int64_t n, int32_t levels, std::vector<int16_t>& uq) {
  float max_abs = 0.0f;
  for (int64_t i = 0; i < n; ++i) max_abs = std::max(max_abs, std::fabs(u[i]));
  uq.assign(static_cast<size_t>(n), 0);
  if (max_abs == 0.0f) return 0.0;
  // In double: levels / max|u| overflows float for max|u| below ~4.8e-35.
  const double q = levels / static_cast<double>(max_abs);
  for (int64_t i = 0; i < n; ++i) uq[i] = round_activation(u[i], q, levels);
  return static_cast<double>(max_abs) / levels;
}

void stage_rows_scalar(const uint16_t* idx, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* sums) {
  rows_scalar(int_tables().e8p, idx, lo, hi, blocks, a.uq.data(), sums);
}

void stage_rows_scalar(const uint8_t* idx, int64_t lo, int64_t hi, int64_t blocks,
                       const Activation& a, int64_t* sums) {
  rows_scalar(int_tables().e81b.data(), idx, lo, hi, blocks, a.uq.data(), sums);
}

void dense_rows_scalar(const float* w, int64_t r0, int64_t r1, int64_t n, const float* x, float* y) {
  dense_rows(w, r0, r1, n, x, y);
}

void dense_rows_scalar(const uint16_t* w, int64_t r0, int64_t r1, int64_t n, const float* x,
                       float* y) {
  dense_rows(w, r0, r1, n, x, y);
}

}  // namespace matvec
}  // namespace qs
