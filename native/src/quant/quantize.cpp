// The QuIP# recipe for one matrix (§1.4 with f = 1) and the reference decode / mat-vec of §7.1.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "quant/codebook.hpp"
#include "kernels/hadamard.hpp"
#include "quant/ldlq.hpp"
#include "common/parallel.hpp"
#include "quant/qlinear.hpp"
#include "common/status.hpp"
#include "kernels/gemm.hpp"

namespace qs {
namespace {

// From this many vectors on, mat-vec decodes tiles and uses the GEMM (float accumulation).
constexpr int64_t kGemmBatch = 4;

void require_symmetric(const double* h, int64_t n) {
  double scale = 0.0;
  for (int64_t i = 0; i < n * n; ++i) scale = std::max(scale, std::fabs(h[i]));
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
  const PackedB xt(x, n, batch, n, true);  // x^T (n x batch), packed once for every tile
  const int64_t tiles = (m + tile_rows - 1) / tile_rows;
  parallel_for(0, tiles, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> w(static_cast<size_t>(tile_rows * n)), c(static_cast<size_t>(tile_rows * batch));
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t r0 = t * tile_rows, rows = std::min(tile_rows, m - r0);
      codebook_decode(codebook_id, resid_scale, codes + r0 * (n / 8), rows * (n / 8), w.data());
      std::fill(c.begin(), c.end(), 0.0f);
      sgemm_acc(rows, 1.0f, w.data(), n, xt, c.data(), batch);
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t b = 0; b < batch; ++b) y[b * m + r0 + i] = c[i * batch + b];
    }
  });
}

}  // namespace

QShape qlinear_shape(int64_t rows, int64_t cols, int32_t use_rht) {
  require(rows > 0, "rows = ", rows, " must be positive");
  require(cols > 0, "cols = ", cols, " must be positive");
  require(use_rht == 0 || use_rht == 1, "use_rht = ", use_rht, " must be 0 or 1");
  // §10.6: a dimension that is a supported order is used as is, otherwise it is zero-padded to the
  // smallest supported order that is a multiple of 8.
  auto rht_size = [&](int64_t k, const char* what) {
    if (!use_rht || is_hadamard_order(k)) return k;
    const int64_t padded = next_supported_order(k, 8);
    require(padded > 0, what, " = ", k, " is beyond every supported Hadamard order");
    return padded;
  };
  QShape s{rows, cols, rht_size(rows, "rows"), rht_size(cols, "cols"), 0};
  s.code_cols = (s.rht_cols + 7) / 8 * 8;
  return s;
}

QShape validate_qlinear(const qs_qlinear_desc* d) {
  require_not_null(d, "desc");
  require_not_null(d->codes, "desc->codes");
  require_not_null(d->s_in, "desc->s_in");
  require_not_null(d->s_out, "desc->s_out");
  const QShape shape = qlinear_shape(d->rows, d->cols, d->use_rht);
  require(std::isfinite(d->wscale), "desc->wscale = ", d->wscale, " must be finite");
  require(std::isfinite(d->resid_scale), "desc->resid_scale = ", d->resid_scale, " must be finite");
  codebook_info(d->codebook_id);
  return shape;
}

QShape validate_qlinear_in_full(const qs_qlinear_desc* d) {
  const QShape shape = validate_qlinear(d);
  validate_codes(d->codebook_id, d->codes, shape.code_count(), "desc->codes");
  require_finite(d->s_in, shape.rht_cols, "desc->s_in");
  require_finite(d->s_out, shape.rht_rows, "desc->s_out");
  return shape;
}

namespace {

// dst (rows x dst_cols, zero-filled beyond) <- the first min(src_cols, dst_cols) columns of the
// first `rows` rows of src (src_cols wide).
template <typename T>
std::vector<T> resize_matrix(const T* src, int64_t src_rows, int64_t src_cols, int64_t rows,
                             int64_t cols) {
  std::vector<T> dst(static_cast<size_t>(rows * cols), T(0));
  const int64_t r_end = std::min(rows, src_rows), c_end = std::min(cols, src_cols);
  for (int64_t r = 0; r < r_end; ++r) std::copy(src + r * src_cols, src + r * src_cols + c_end, &dst[r * cols]);
  return dst;
}

}  // namespace

std::vector<float> input_transform(const QShape& s, const float* x, int64_t batch, const float* s_in,
                                   int32_t use_rht) {
  std::vector<float> u = resize_matrix(x, batch, s.cols, batch, s.rht_cols);
  if (use_rht) {
    rht_rows(u.data(), batch, s.rht_cols, s_in, 0);
  } else {
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t c = 0; c < s.cols; ++c) u[b * s.cols + c] *= s_in[c];
  }
  if (s.code_cols != s.rht_cols) u = resize_matrix(u.data(), batch, s.rht_cols, batch, s.code_cols);
  return u;
}

namespace {

// The dense effective weight (rows x cols) of a validated description:
// Ŵ = diag(s_out) M_m (wscale W~) M_n^T diag(s_in)  (§1.4 step 7), then the true rows x cols.
void decode_effective(const qs_qlinear_desc& d, const QShape& s, float* out) {
  const int64_t mr = s.rht_rows, nr = s.rht_cols, nc = s.code_cols;
  std::vector<float> full(static_cast<size_t>(mr * nc));
  check(qs_codebook_decode(d.codebook_id, d.resid_scale, d.codes, s.code_count(), full.data()));
  if (nc != nr) full = resize_matrix(full.data(), mr, nc, mr, nr);
  const float ws = static_cast<float>(d.wscale);
  for (float& v : full) v *= ws;
  if (d.use_rht) {
    rht_cols(full.data(), mr, nr, d.s_out, 1);
    rht_rows(full.data(), mr, nr, d.s_in, 1);
  } else {
    for (int64_t r = 0; r < mr; ++r)
      for (int64_t c = 0; c < nr; ++c) full[r * nr + c] *= d.s_out[r] * d.s_in[c];
  }
  for (int64_t r = 0; r < s.rows; ++r) std::copy(&full[r * nr], &full[r * nr] + s.cols, out + r * s.cols);
}

}  // namespace

}  // namespace qs

extern "C" int32_t qs_qlinear_shape(int64_t rows, int64_t cols, int32_t use_rht, int64_t* out) {
  return qs::guard([&] {
    qs::require_not_null(out, "out");
    const qs::QShape s = qs::qlinear_shape(rows, cols, use_rht);
    out[0] = s.rht_rows;
    out[1] = s.rht_cols;
    out[2] = s.code_cols;
  });
}

extern "C" int32_t qs_quantize_matrix(const float* w, int64_t m, int64_t n, const double* h_sum,
                                      int64_t tokens, const float* row_scale,
                                      const qs_quant_params* p, uint32_t* codes, float* s_in,
                                      float* s_out, qs_quant_result* result) {
  using namespace qs;
  return guard([&] {
    require_not_null(w, "w");
    require_not_null(p, "params");
    require_not_null(codes, "codes");
    require_not_null(s_in, "s_in");
    require_not_null(s_out, "s_out");
    require_not_null(result, "result");
    const QShape shape = qlinear_shape(m, n, p->use_rht);
    const CodebookInfo& info = codebook_info(p->codebook_id);
    require(p->rounding == QS_ROUNDING_BLOCK_LDLQ || p->rounding == QS_ROUNDING_NEAREST,
            "rounding = ", p->rounding, " must be 0 (BlockLDLQ) or 1 (nearest)");
    require(p->refine_passes >= 0, "refinePasses = ", p->refine_passes, " must be >= 0");
    require(std::isfinite(p->damping) && p->damping >= 0.0, "damping = ", p->damping,
            " must be finite and >= 0");
    require(std::isfinite(p->scale_override), "scale = ", p->scale_override, " must be finite");
    require_finite(w, m * n, "w");
    if (h_sum != nullptr) {
      require(tokens >= 1, "tokens = ", tokens, " must be >= 1 (the Hessian sum is over no input)");
      require_finite(h_sum, n * n, "hessian");
      require_symmetric(h_sum, n);
    }
    if (row_scale != nullptr) require_finite(row_scale, m, "row_scale");
    const int64_t mr = shape.rht_rows, nr = shape.rht_cols, nc = shape.code_cols;

    // §1.4 step 2: sign vectors (on the padded sizes of §10.6).
    std::vector<float> sin_v(static_cast<size_t>(nr), 1.0f), sout_v(static_cast<size_t>(mr), 1.0f);
    if (p->use_rht) {
      check(qs_random_signs(nr, p->seed, 1, sin_v.data()));
      check(qs_random_signs(mr, p->seed, 2, sout_v.data()));
    }
    // Step 3: W_r = M_m^T diag(s_out) W diag(s_in) M_n on W padded with zero rows / columns.
    std::vector<float> wr = resize_matrix(w, m, n, mr, nr);
    if (p->use_rht) {
      rht_rows(wr.data(), mr, nr, sin_v.data(), 0);
      rht_cols(wr.data(), mr, nr, sout_v.data(), 0);
    }
    // Step 5: global scale so that the entries of the transformed matrix have RMS rho (zero columns
    // appended after the transform are not entries of it).
    double sum_sq = 0.0;
    for (float v : wr) sum_sq += static_cast<double>(v) * v;
    const double rms = std::sqrt(sum_sq / static_cast<double>(mr * nr));
    const double rho = p->scale_override > 0.0 ? p->scale_override : info.opt_scale;
    const double scale = rms > 0.0 ? rms / rho : 1.0;
    const float inv = static_cast<float>(1.0 / scale);
    for (float& v : wr) v *= inv;
    if (nc != nr) wr = resize_matrix(wr.data(), mr, nr, mr, nc);

    // §1.3 damping, then H_r. Nearest rounding ignores the Hessian: it is only checked.
    std::vector<double> hr;
    if (p->rounding == QS_ROUNDING_BLOCK_LDLQ) {
      hr.assign(static_cast<size_t>(n * n), 0.0);
      if (h_sum != nullptr) {
        // The mean H = sum / tokens, formed in float64 (§1.2).
        const double count = static_cast<double>(tokens);
        for (int64_t i = 0; i < n * n; ++i) hr[i] = h_sum[i] / count;
      } else {
        for (int64_t i = 0; i < n; ++i) hr[i * n + i] = 1.0;
      }
      damp_hessian(hr.data(), n, p->damping);
      // §10.6: padded input columns see zero activations; their block gets only the damping term
      // (the normalized H has mean diagonal 1), so H stays positive definite.
      if (nr != n) {
        hr = resize_matrix(hr.data(), n, n, nr, nr);
        for (int64_t i = n; i < nr; ++i) hr[i * nr + i] = p->damping > 0.0 ? p->damping : 1.0;
      }
      if (p->use_rht) rotate_hessian(hr, nr, sin_v);
      // Zero columns after the transform: a block decoupled from the real columns.
      if (nc != nr) {
        hr = resize_matrix(hr.data(), nr, nr, nc, nc);
        for (int64_t i = nr; i < nc; ++i) hr[i * nc + i] = 1.0;
      }
    }

    // Step 6: BlockLDLQ (or nearest rounding) in codebook units.
    std::vector<float> w_hat(static_cast<size_t>(mr * nc));
    block_ldlq(wr.data(), mr, nc, hr.data(), CodebookRef{p->codebook_id, p->resid_scale_override},
               p->rounding, p->refine_passes, codes, w_hat.data());
    hr = std::vector<double>();
    w_hat = std::vector<float>();
    wr = std::vector<float>();
    const double wscale = rms > 0.0 ? scale : 0.0;  // an all-zero W decodes to exactly zero

    // The proxy loss of the effective weight (§1.1) and its normalizer, under the mean Hessian: the
    // sum's loss divided by the token count (the same H as above, without another n x n copy).
    const qs_qlinear_desc desc{p->codebook_id, p->resid_scale_override, codes, m, n,
                               sin_v.data(), sout_v.data(), wscale, p->use_rht};
    std::vector<float> w_eff(static_cast<size_t>(m * n));
    decode_effective(desc, shape, w_eff.data());
    const ProxyLoss pl = proxy_loss(w, w_eff.data(), m, n, h_sum, row_scale);
    const double count = h_sum != nullptr ? static_cast<double>(tokens) : 1.0;
    std::copy(sin_v.begin(), sin_v.end(), s_in);
    std::copy(sout_v.begin(), sout_v.end(), s_out);
    result->wscale = wscale;
    result->proxy_loss = pl.loss / count;
    result->proxy_norm = pl.norm / count;
  });
}

extern "C" int32_t qs_qlinear_decode(const qs_qlinear_desc* desc, float* out) {
  using namespace qs;
  return guard([&] {
    const QShape s = validate_qlinear(desc);
    require_not_null(out, "out");
    decode_effective(*desc, s, out);
  });
}

extern "C" int32_t qs_qlinear_matvec(const qs_qlinear_desc* desc, const float* x, int64_t batch,
                                     float* y) {
  using namespace qs;
  return guard([&] {
    const QShape s = validate_qlinear(desc);
    const qs_qlinear_desc& d = *desc;
    const int32_t codebook_id = d.codebook_id, use_rht = d.use_rht;
    const double resid_scale = d.resid_scale, wscale = d.wscale;
    const uint32_t* codes = d.codes;
    const float *s_in = d.s_in, *s_out = d.s_out;
    const int64_t m = d.rows;
    require_not_null(x, "x");
    require_not_null(y, "y");
    require(batch > 0, "batch = ", batch, " must be positive");
    const int64_t mr = s.rht_rows, nc = s.code_cols, blocks = nc / 8;
    validate_codes(codebook_id, codes, s.code_count(), "codes");
    // §7.1: u = M_n^T (s_in ⊙ x); z = wscale W~ u; y = s_out ⊙ (M_m z).
    const std::vector<float> u = input_transform(s, x, batch, s_in, use_rht);
    std::vector<float> z(static_cast<size_t>(batch * mr));
    if (batch >= kGemmBatch) {
      codebook_matmul(codebook_id, resid_scale, codes, mr, nc, u.data(), batch, z.data());
      const float ws = static_cast<float>(wscale);
      for (float& v : z) v *= ws;
    } else {
      // Few vectors: decode each row once and take double-precision dot products.
      parallel_for(0, mr, 64, [&](int64_t lo, int64_t hi) {
        std::vector<float> row(static_cast<size_t>(nc));
        for (int64_t r = lo; r < hi; ++r) {
          codebook_decode(codebook_id, resid_scale, codes + r * blocks, blocks, row.data());
          for (int64_t b = 0; b < batch; ++b) {
            const float* ub = &u[b * nc];
            double acc = 0.0;
            for (int64_t c = 0; c < nc; ++c) acc += static_cast<double>(row[c]) * ub[c];
            z[b * mr + r] = static_cast<float>(acc * wscale);
          }
        }
      });
    }
    if (use_rht) {
      rht_rows(z.data(), batch, mr, s_out, 1);
    } else {
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t r = 0; r < mr; ++r) z[b * mr + r] *= s_out[r];
    }
    for (int64_t b = 0; b < batch; ++b) std::copy(&z[b * mr], &z[b * mr] + m, y + b * m);
  });
}
