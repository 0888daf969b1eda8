// The QuIP# recipe for one matrix (§1.4 with f = 1) and the reference decode / mat-vec of §7.1.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "common/codebook.hpp"
#include "common/hadamard.hpp"
#include "common/ldlq.hpp"
#include "common/parallel.hpp"
#include "common/qlinear.hpp"
#include "common/status.hpp"
#include "cpu/gemm.hpp"

namespace qs {
namespace {

// From this many vectors on, mat-vec decodes tiles and uses the GEMM (float accumulation).
constexpr int64_t kGemmBatch = 4;

// "rows = 100 is not a supported size (...); nearest supported: 96 and 104".
void require_hadamard_order(int64_t n, const char* what, bool multiple_of_8) {
  if (n > 0 && qs_hadamard_base_order(n) != 0 && (!multiple_of_8 || n % 8 == 0)) return;
  int64_t below = 0, above = 0;
  for_each_hadamard_order([&](int64_t c) {
    if (multiple_of_8 && c % 8 != 0) return;
    if (c < n && c > below) below = c;
    if (c > n && (above == 0 || c < above)) above = c;
  });
  std::ostringstream near;
  if (below > 0) near << below << (above > 0 ? " and " : "");
  if (above > 0) near << above;
  fail(QS_ERR_INVALID_ARGUMENT, what, " = ", n,
       " is not a supported size: it must be m*2^k with m in {1, 12, 20, 28, 36, 52, 60, 108, 116, "
       "124, 140, 156, 172}",
       multiple_of_8 ? " and a multiple of 8" : "", "; nearest supported: ", near.str());
}

void require_symmetric(const float* h, int64_t n) {
  double scale = 0.0;
  for (int64_t i = 0; i < n * n; ++i) scale = std::max(scale, std::fabs(static_cast<double>(h[i])));
  const double tol = 1e-5 * scale;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) {
      const double a = h[i * n + j], b = h[j * n + i];
      if (std::fabs(a - b) > tol)
        fail(QS_ERR_INVALID_ARGUMENT, "hessian is not symmetric: h[", i, "][", j, "] = ", a,
             " but h[", j, "][", i, "] = ", b);
    }
}


// The transforms below run the (single-threaded) Hadamard kernels on row ranges in parallel.
void hadamard_rows_f64(double* a, int64_t rows, int64_t n, int32_t transpose) {
  parallel_for(0, rows, 16, [&](int64_t lo, int64_t hi) {
    check(qs_hadamard_transform_f64(a + lo * n, hi - lo, n, transpose));
  });
}

// Randomized transform of every row (axis 1 of qs_rht_apply_f32).
void rht_rows(float* a, int64_t rows, int64_t cols, const float* signs, int32_t inverse) {
  parallel_for(0, rows, 16, [&](int64_t lo, int64_t hi) {
    check(qs_rht_apply_f32(a + lo * cols, hi - lo, cols, 1, signs, inverse));
  });
}

// dst (cols x rows) = src^T (rows x cols), in cache-sized tiles.
template <typename T>
void transpose(const T* src, int64_t rows, int64_t cols, T* dst) {
  constexpr int64_t tile = 32;
  parallel_for(0, (rows + tile - 1) / tile, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t bi = lo; bi < hi; ++bi)
      for (int64_t j0 = 0; j0 < cols; j0 += tile)
        for (int64_t i = bi * tile; i < std::min(rows, (bi + 1) * tile); ++i)
          for (int64_t j = j0; j < std::min(cols, j0 + tile); ++j) dst[j * rows + i] = src[i * cols + j];
  });
}

// Randomized transform of every column (axis 0): transpose, transform rows, transpose back.
void rht_cols(float* a, int64_t rows, int64_t cols, const float* signs, int32_t inverse) {
  std::vector<float> t(static_cast<size_t>(rows * cols));
  transpose(a, rows, cols, t.data());
  rht_rows(t.data(), cols, rows, signs, inverse);
  transpose(t.data(), cols, rows, a);
}

// H_r = M^T diag(s) H diag(s) M, in place (H symmetric): rows <- M^T row gives A M; transposing gives
// M^T A; the same row transform again gives M^T A M.
void rotate_hessian(std::vector<double>& h, int64_t n, const std::vector<float>& s) {
  parallel_for(0, n, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      for (int64_t j = 0; j < n; ++j) h[i * n + j] *= static_cast<double>(s[i]) * s[j];
  });
  hadamard_rows_f64(h.data(), n, n, 1);
  // In-place transpose, tile pairs (I, J) with I <= J swapped by one thread each.
  constexpr int64_t tile = 32;
  const int64_t tiles = (n + tile - 1) / tile;
  parallel_for(0, tiles, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t bi = lo; bi < hi; ++bi)
      for (int64_t bj = bi; bj < tiles; ++bj)
        for (int64_t i = bi * tile; i < std::min(n, (bi + 1) * tile); ++i)
          for (int64_t j = std::max(bj * tile, i + 1); j < std::min(n, (bj + 1) * tile); ++j)
            std::swap(h[i * n + j], h[j * n + i]);
  });
  hadamard_rows_f64(h.data(), n, n, 1);
}


// y (batch x m) = W~ x for x (batch x n), W~ the decoded codebook matrix: decode 64-row tiles and
// multiply each with x^T by GEMM (the prefill path of §7.2, "decompress, then a dense GEMM").
void codebook_matmul(int32_t codebook_id, double resid_scale, const uint32_t* codes, int64_t m,
                     int64_t n, const float* x, int64_t batch, float* y) {
  constexpr int64_t tile_rows = 64;
  std::vector<float> xt(static_cast<size_t>(n * batch));  // x^T: n x batch
  transpose(x, batch, n, xt.data());
  const int64_t tiles = (m + tile_rows - 1) / tile_rows;
  parallel_for(0, tiles, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> w(static_cast<size_t>(tile_rows * n)), c(static_cast<size_t>(tile_rows * batch));
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r0 = t * tile_rows, rows = std::min(tile_rows, m - r0);
      codebook_decode(codebook_id, resid_scale, codes + r0 * (n / 8), rows * (n / 8), w.data());
      std::fill(c.begin(), c.end(), 0.0f);
      sgemm_acc(rows, batch, n, 1.0f, w.data(), n, xt.data(), batch, c.data(), batch);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t b = 0; b < batch; ++b) y[b * m + r0 + i] = c[i * batch + b];
    }
  });
}

}  // namespace

void validate_qlinear(int32_t codebook_id, const uint32_t* codes, int64_t m, int64_t n,
                      const float* s_in, const float* s_out, double wscale, int32_t use_rht) {
  require_not_null(codes, "codes");
  require_not_null(s_in, "s_in");
  require_not_null(s_out, "s_out");
  require(m > 0, "rows = ", m, " must be positive");
  require(n > 0 && n % 8 == 0, "cols = ", n, " must be a positive multiple of 8");
  require(std::isfinite(wscale), "wscale = ", wscale, " must be finite");
  require(use_rht == 0 || use_rht == 1, "use_rht = ", use_rht, " must be 0 or 1");
  if (use_rht) {
    require_hadamard_order(m, "rows", false);
    require_hadamard_order(n, "cols", true);
  }
  codebook_info(codebook_id);
}

}  // namespace qs

extern "C" int32_t qs_quantize_matrix(const float* w, int64_t m, int64_t n, const float* h,
                                      const qs_quant_params* p, uint32_t* codes, float* s_in,
                                      float* s_out, double* wscale) {
  using namespace qs;
  return guard([&] {
    require_not_null(w, "w");
    require_not_null(p, "params");
    require_not_null(codes, "codes");
    require_not_null(s_in, "s_in");
    require_not_null(s_out, "s_out");
    require_not_null(wscale, "wscale");
    require(m > 0, "rows = ", m, " must be positive");
    require(n > 0, "cols = ", n, " must be positive");
    require(p->use_rht == 0 || p->use_rht == 1, "use_rht = ", p->use_rht, " must be 0 or 1");
    if (p->use_rht) {
      require_hadamard_order(n, "cols", true);
      require_hadamard_order(m, "rows", false);
    } else {
      require(n % 8 == 0, "cols = ", n, " must be a multiple of 8 (BlockLDLQ groups 8 weights)");
    }
    const CodebookInfo& info = codebook_info(p->codebook_id);
    require(p->rounding == QS_ROUNDING_BLOCK_LDLQ || p->rounding == QS_ROUNDING_NEAREST,
            "rounding = ", p->rounding, " must be 0 (BlockLDLQ) or 1 (nearest)");
    require(p->refine_passes >= 0, "refinePasses = ", p->refine_passes, " must be >= 0");
    require(std::isfinite(p->damping) && p->damping >= 0.0, "damping = ", p->damping,
            " must be finite and >= 0");
    require(std::isfinite(p->scale_override), "scale = ", p->scale_override, " must be finite");
    require_finite(w, m * n, "w");
    if (h != nullptr) {
      require_finite(h, n * n, "hessian");
      require_symmetric(h, n);
    }

    // §1.4 step 2: sign vectors.
    std::vector<float> sin_v(static_cast<size_t>(n), 1.0f), sout_v(static_cast<size_t>(m), 1.0f);
    if (p->use_rht) {
      check(qs_random_signs(n, p->seed, 1, sin_v.data()));
      check(qs_random_signs(m, p->seed, 2, sout_v.data()));
    }
    // Step 3: W_r = M_m^T diag(s_out) W diag(s_in) M_n and H_r; §1.3 damping first.
    std::vector<float> wr(w, w + m * n);
    if (p->use_rht) {
      rht_rows(wr.data(), m, n, sin_v.data(), 0);
      rht_cols(wr.data(), m, n, sout_v.data(), 0);
    }
    // Nearest rounding ignores the Hessian: it is only checked, not processed.
    std::vector<double> hr;
    if (p->rounding == QS_ROUNDING_BLOCK_LDLQ) {
      hr.assign(static_cast<size_t>(n * n), 0.0);
      if (h != nullptr) {
        std::copy(h, h + n * n, hr.begin());
      } else {
        for (int64_t i = 0; i < n; ++i) hr[i * n + i] = 1.0;
      }
      damp_hessian(hr.data(), n, p->damping);
      if (p->use_rht) rotate_hessian(hr, n, sin_v);
    }

    // Step 5: global scale so that the entries have RMS rho.
    double sum_sq = 0.0;
    for (float v : wr) sum_sq += static_cast<double>(v) * v;
    const double rms = std::sqrt(sum_sq / static_cast<double>(m * n));
    const double rho = p->scale_override > 0.0 ? p->scale_override : info.opt_scale;
    const double scale = rms > 0.0 ? rms / rho : 1.0;
    const float inv = static_cast<float>(1.0 / scale);
    for (float& v : wr) v *= inv;

    // Step 6: BlockLDLQ (or nearest rounding) in codebook units.
    std::vector<float> w_hat(static_cast<size_t>(m * n));
    block_ldlq(wr.data(), m, n, hr.data(), CodebookRef{p->codebook_id, p->resid_scale_override},
               p->rounding, p->refine_passes, codes, w_hat.data());
    std::copy(sin_v.begin(), sin_v.end(), s_in);
    std::copy(sout_v.begin(), sout_v.end(), s_out);
    *wscale = rms > 0.0 ? scale : 0.0;  // an all-zero W decodes to exactly zero
  });
}

extern "C" int32_t qs_qlinear_decode(int32_t codebook_id, double resid_scale, const uint32_t* codes,
                                     int64_t m, int64_t n, const float* s_in, const float* s_out,
                                     double wscale, int32_t use_rht, float* out) {
  using namespace qs;
  return guard([&] {
    validate_qlinear(codebook_id, codes, m, n, s_in, s_out, wscale, use_rht);
    require_not_null(out, "out");
    check(qs_codebook_decode(codebook_id, resid_scale, codes, m * (n / 8), out));
    const float ws = static_cast<float>(wscale);
    // Ŵ = diag(s_out) M_m (wscale W~) M_n^T diag(s_in)  (§1.4 step 7)
    for (int64_t i = 0; i < m * n; ++i) out[i] *= ws;
    if (use_rht) {
      rht_cols(out, m, n, s_out, 1);
      rht_rows(out, m, n, s_in, 1);
    } else {
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = 0; c < n; ++c) out[r * n + c] *= s_out[r] * s_in[c];
    }
  });
}

extern "C" int32_t qs_qlinear_matvec(int32_t codebook_id, double resid_scale, const uint32_t* codes,
                                     int64_t m, int64_t n, const float* s_in, const float* s_out,
                                     double wscale, int32_t use_rht, const float* x, int64_t batch,
                                     float* y) {
  using namespace qs;
  return guard([&] {
    validate_qlinear(codebook_id, codes, m, n, s_in, s_out, wscale, use_rht);
    require_not_null(x, "x");
    require_not_null(y, "y");
    require(batch > 0, "batch = ", batch, " must be positive");
    // §7.1: u = M_n^T (s_in ⊙ x); z = wscale W~ u; y = s_out ⊙ (M_m z).
    std::vector<float> u(x, x + batch * n);
    if (use_rht) {
      rht_rows(u.data(), batch, n, s_in, 0);
    } else {
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t c = 0; c < n; ++c) u[b * n + c] *= s_in[c];
    }
    const int64_t blocks = n / 8;
    validate_codes(codebook_id, codes, m * blocks, "codes");
    if (batch >= kGemmBatch) {
      codebook_matmul(codebook_id, resid_scale, codes, m, n, u.data(), batch, y);
      const float ws = static_cast<float>(wscale);
      for (int64_t i = 0; i < batch * m; ++i) y[i] *= ws;
    } else {
      // Few vectors: decode each row once and take double-precision dot products.
      parallel_for(0, m, 64, [&](int64_t lo, int64_t hi) {
        std::vector<float> row(static_cast<size_t>(n));
        for (int64_t r = lo; r < hi; ++r) {
          codebook_decode(codebook_id, resid_scale, codes + r * blocks, blocks, row.data());
          for (int64_t b = 0; b < batch; ++b) {
            const float* ub = &u[b * n];
            double s = 0.0;
            for (int64_t c = 0; c < n; ++c) s += static_cast<double>(row[c]) * ub[c];
            y[b * m + r] = static_cast<float>(s * wscale);
          }
        }
      });
    }
    if (use_rht) {
      rht_rows(y, batch, m, s_out, 1);
    } else {
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t r = 0; r < m; ++r) y[b * m + r] *= s_out[r];
    }
  });
}
