// Damping (§1.3), g-block LDL (§5.1), BlockLDLQ with refinement passes (§5.2, §5.3), proxy loss (§5.4).
#include "quant/ldlq.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "quant/codebook.hpp"
#include "common/parallel.hpp"
#include "common/status.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/gemm.hpp"

namespace qs {
namespace {

constexpr int64_t kGroup = 8;    // BlockLDLQ block size g (§5)
constexpr int64_t kChunk = 128;  // columns per buffered chunk: feedback from other chunks is one GEMM

// Lower Cholesky factor of SPD `a` (n x n row-major), in place in the lower triangle; the strict upper
// triangle is zeroed. Blocked right-looking; the trailing update is the O(n^3) part and is threaded.
void cholesky_in_place(std::vector<double>& a, int64_t n) {
  constexpr int64_t nb = 128;
  double* A = a.data();
  for (int64_t k0 = 0; k0 < n; k0 += nb) {
    const int64_t k1 = std::min(n, k0 + nb);
    // 1. Unblocked factorization of the diagonal block.
    for (int64_t j = k0; j < k1; ++j) {
      double d = A[j * n + j];
      for (int64_t p = k0; p < j; ++p) d -= A[j * n + p] * A[j * n + p];
      if (!(d > 0.0) || !std::isfinite(d)) {
        fail(QS_ERR_NOT_POSITIVE_DEFINITE, "hessian is not positive definite: Cholesky pivot ", j,
             " is ", d, " (after damping)");
      }
      const double l = std::sqrt(d);
      A[j * n + j] = l;
      for (int64_t i = j + 1; i < k1; ++i) {
        double s = A[i * n + j];
        for (int64_t p = k0; p < j; ++p) s -= A[i * n + p] * A[j * n + p];
        A[i * n + j] = s / l;
      }
    }
    if (k1 == n) break;
    // 2. Panel below the diagonal block: rows i >= k1 solve x L_kk^T = a, column by column so that the
    // inner loop is an axpy over the transposed diagonal block (vectorizes; no reductions).
    const int64_t width = k1 - k0;
    std::vector<double> lkt(static_cast<size_t>(width * width), 0.0);  // lkt[p][j] = L[k0+j][k0+p]
    for (int64_t j = 0; j < width; ++j)
      for (int64_t p = 0; p <= j; ++p) lkt[p * width + j] = A[(k0 + j) * n + k0 + p];
    parallel_for(k1, n, 32, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        double* x = A + i * n + k0;
        for (int64_t p = 0; p < width; ++p) {
          const double v = x[p] / lkt[p * width + p];
          x[p] = v;
          const double* col = &lkt[p * width];
          for (int64_t j = p + 1; j < width; ++j) x[j] -= v * col[j];
        }
      }
    });
    // 3. Trailing update A22 -= L21 L21^T as GEMMs over row strips, each computing columns up to the
    // strip's last row (the few entries above the diagonal are scratch, zeroed at the end).
    const int64_t rest = n - k1;
    std::vector<double> pt(static_cast<size_t>(width * rest));  // pt[p][j] = L[k1+j][k0+p]
    for (int64_t j = 0; j < rest; ++j)
      for (int64_t p = 0; p < width; ++p) pt[p * rest + j] = A[(k1 + j) * n + k0 + p];
    constexpr int64_t strip = 512;
    for (int64_t r0 = k1; r0 < n; r0 += strip) {
      const int64_t r1 = std::min(n, r0 + strip);
      dgemm_acc(r1 - r0, r1 - k1, width, -1.0, A + r0 * n + k0, n, pt.data(), rest, A + r0 * n + k1,
                n);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i + 1; j < n; ++j) A[i * n + j] = 0.0;
}

// Inverse of a small SPD matrix (8 x 8) by Gauss-Jordan with partial pivoting, in double.
void invert_small(const double* a, int64_t g, double* inv) {
  std::vector<double> m(static_cast<size_t>(g * 2 * g), 0.0);
  for (int64_t i = 0; i < g; ++i) {
    for (int64_t j = 0; j < g; ++j) m[i * 2 * g + j] = a[i * g + j];
    m[i * 2 * g + g + i] = 1.0;
  }
  for (int64_t c = 0; c < g; ++c) {
    int64_t piv = c;
    for (int64_t r = c + 1; r < g; ++r)
      if (std::fabs(m[r * 2 * g + c]) > std::fabs(m[piv * 2 * g + c])) piv = r;
    if (m[piv * 2 * g + c] == 0.0) fail(QS_ERR_NOT_POSITIVE_DEFINITE, "singular 8x8 hessian block");
    if (piv != c)
      for (int64_t j = 0; j < 2 * g; ++j) std::swap(m[c * 2 * g + j], m[piv * 2 * g + j]);
    const double p = m[c * 2 * g + c];
    for (int64_t j = 0; j < 2 * g; ++j) m[c * 2 * g + j] /= p;
    for (int64_t r = 0; r < g; ++r) {
      if (r == c) continue;
      const double f = m[r * 2 * g + c];
      if (f == 0.0) continue;
      for (int64_t j = 0; j < 2 * g; ++j) m[r * 2 * g + j] -= f * m[c * 2 * g + j];
    }
  }
  for (int64_t i = 0; i < g; ++i)
    for (int64_t j = 0; j < g; ++j) inv[i * g + j] = m[i * 2 * g + g + j];
}

// g[c] += sum_i d[i] * h[i*n + c] for the 8 consecutive rows of h: one pass over g (§5.3 update of
// G = E H after a row's block changed). AVX2+FMA where the CPU has it.
void add_rank8_portable(float* g, const float* d, const float* h, int64_t n) {
  for (int64_t c = 0; c < n; ++c) {
    float s = g[c];
    for (int64_t i = 0; i < kGroup; ++i) s += d[i] * h[i * n + c];
    g[c] = s;
  }
}

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) void add_rank8_avx2(float* g, const float* d, const float* h,
                                                        int64_t n) {
  __m256 dv[kGroup];
  for (int64_t i = 0; i < kGroup; ++i) dv[i] = _mm256_set1_ps(d[i]);
  int64_t c = 0;
  for (; c + 8 <= n; c += 8) {
    __m256 s = _mm256_loadu_ps(g + c);
    for (int64_t i = 0; i < kGroup; ++i) s = _mm256_fmadd_ps(dv[i], _mm256_loadu_ps(h + i * n + c), s);
    _mm256_storeu_ps(g + c, s);
  }
  if (c < n) add_rank8_portable(g + c, d, h + c, n - c);
}
#endif

void add_rank8(float* g, const float* d, const float* h, int64_t n) {
#if defined(__x86_64__) || defined(__i386__)
  if (kernel_for_auto() >= QS_KERNEL_AVX2) return add_rank8_avx2(g, d, h, n);
#endif
  add_rank8_portable(g, d, h, n);
}

// Quantizes the m rows of an m x 8 block held in `t` (row stride ldt) with the composite codebook;
// writes codes[r * code_stride] and the reconstruction q (m x 8, contiguous).
void quantize_block_rows(const float* t, int64_t ldt, int64_t m, const CodebookRef& cb,
                         uint32_t* codes, int64_t code_stride, float* q) {
  parallel_for(0, m, 256, [&](int64_t lo, int64_t hi) {
    std::vector<float> in(static_cast<size_t>((hi - lo) * kGroup));
    std::vector<uint32_t> out(static_cast<size_t>(hi - lo));
    for (int64_t r = lo; r < hi; ++r)
      std::memcpy(&in[(r - lo) * kGroup], t + r * ldt, sizeof(float) * kGroup);
    cb.quantize(in.data(), hi - lo, out.data(), q + lo * kGroup);
    for (int64_t r = lo; r < hi; ++r) codes[r * code_stride] = out[r - lo];
  });
}

}  // namespace

void CodebookRef::quantize(const float* x, int64_t count, uint32_t* codes, float* out) const {
  codebook_quantize(id, resid_scale, x, count, codes, out);
}

void damp_hessian(double* h, int64_t n, double sigma) {
  double mean = 0.0;
  for (int64_t i = 0; i < n; ++i) mean += h[i * n + i];
  mean /= static_cast<double>(n);
  if (!(mean > 0.0) || !std::isfinite(mean)) {
    fail(QS_ERR_NOT_POSITIVE_DEFINITE, "hessian has mean diagonal ", mean,
         ": it must be positive (a Hessian E[x x^T] is positive semi-definite)");
  }
  const double inv = 1.0 / mean;
  for (int64_t i = 0; i < n * n; ++i) h[i] *= inv;
  for (int64_t i = 0; i < n; ++i) h[i * n + i] += sigma;
}

void block_ldl(const double* h, int64_t n, std::vector<double>& lp, std::vector<double>& d) {
  lp.assign(h, h + n * n);
  cholesky_in_place(lp, n);
  d.assign(static_cast<size_t>(n * kGroup), 0.0);
  const int64_t blocks = n / kGroup;
  // D_k = L_kk L_kk^T; L' = L blockdiag(L_kk)^{-1}: each 8-wide row segment x of block column k is
  // replaced by x L_kk^{-1} (solve y L_kk = x from the last coordinate down).
  for (int64_t k = 0; k < blocks; ++k) {
    const int64_t c = k * kGroup;
    double lkk[kGroup * kGroup];
    for (int64_t i = 0; i < kGroup; ++i)
      for (int64_t j = 0; j < kGroup; ++j) lkk[i * kGroup + j] = lp[(c + i) * n + c + j];
    for (int64_t i = 0; i < kGroup; ++i)
      for (int64_t j = 0; j < kGroup; ++j) {
        double s = 0.0;
        for (int64_t p = 0; p < kGroup; ++p) s += lkk[i * kGroup + p] * lkk[j * kGroup + p];
        d[(c + i) * kGroup + j] = s;
      }
    parallel_for(c, n, 256, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        double* x = &lp[i * n + c];
        double y[kGroup];
        for (int64_t j = kGroup - 1; j >= 0; --j) {
          double s = x[j];
          for (int64_t l = j + 1; l < kGroup; ++l) s -= y[l] * lkk[l * kGroup + j];
          y[j] = s / lkk[j * kGroup + j];
        }
        for (int64_t j = 0; j < kGroup; ++j) x[j] = y[j];
      }
    });
  }
}

void block_ldlq(const float* w, int64_t m, int64_t n, const double* h, const CodebookRef& cb,
                int32_t rounding, int32_t refine_passes, uint32_t* codes, float* w_hat) {
  const int64_t blocks = n / kGroup;
  if (rounding == QS_ROUNDING_NEAREST) {
    // Every row segment of 8 to its nearest codeword: the m*n/8 segments are contiguous in w.
    cb.quantize(w, m * blocks, codes, w_hat);
    return;
  }
  std::vector<double> lp, d;
  block_ldl(h, n, lp, d);
  std::vector<float> lf(lp.begin(), lp.end());
  lp.clear();
  lp.shrink_to_fit();

  std::vector<float> err(static_cast<size_t>(m * n), 0.0f);  // E = W - W_hat, kept current
  std::vector<float> t(static_cast<size_t>(m * kChunk));
  std::vector<float> q(static_cast<size_t>(m * kGroup));

  // Writes block k's new reconstruction (q, m x 8) into w_hat and E.
  auto commit_block = [&](int64_t col) {
    parallel_for(0, m, 1024, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r)
        for (int64_t j = 0; j < kGroup; ++j) {
          const float v = q[r * kGroup + j];
          w_hat[r * n + col + j] = v;
          err[r * n + col + j] = w[r * n + col + j] - v;
        }
    });
  };

  // §5.2: blocks from last to first, T_k = W_k + sum_{j>k} E_j L'_{jk}. Chunks of 128 columns: the
  // feedback from chunks to the right is one GEMM, the feedback inside a chunk is applied block by block.
  for (int64_t c1 = n; c1 > 0;) {
    const int64_t c0 = c1 - std::min(kChunk, c1);
    const int64_t width = c1 - c0;
    for (int64_t r = 0; r < m; ++r)
      std::memcpy(&t[r * width], w + r * n + c0, sizeof(float) * width);
    if (c1 < n) sgemm_acc(m, width, n - c1, 1.0f, err.data() + c1, n, lf.data() + c1 * n + c0, n,
                          t.data(), width);
    for (int64_t col = c1 - kGroup; col >= c0; col -= kGroup) {
      const int64_t local = col - c0;
      quantize_block_rows(t.data() + local, width, m, cb, codes + col / kGroup, blocks, q.data());
      commit_block(col);
      if (local > 0)
        sgemm_acc(m, local, kGroup, 1.0f, err.data() + col, n, lf.data() + col * n + c0, n, t.data(),
                  width);
    }
    c1 = c0;
  }
  lf.clear();
  lf.shrink_to_fit();
  if (refine_passes <= 0) return;

  // §5.3 refinement, Gauss-Seidel from the last block to the first. For block k the unconstrained
  // minimiser is T_k = W_hat_k + (E H)[:, k] H_kk^{-1}. A row's new code is kept only if it lowers that
  // row's loss (delta = 2 d.g + d H_kk d^T with d the change of E_k and g = (E H)[r, k]), so a pass never
  // increases the proxy loss (the reference accepts every new code; ours is monotone by construction).
  // G = E H is computed once and then updated only for the rows whose code changed (G_r += d H[k, :]):
  // after the first pass few codes change (on a 4096^2 test: 34%, 6%, 1%, 0.2%, ... of the codes), so
  // later passes cost little, and a pass that changes nothing ends the refinement (the next would
  // repeat it exactly).
  std::vector<float> hf(h, h + n * n);
  std::vector<double> hkk_inv(static_cast<size_t>(blocks * kGroup * kGroup));
  for (int64_t k = 0; k < blocks; ++k) {
    double hkk[kGroup * kGroup];
    for (int64_t i = 0; i < kGroup; ++i)
      for (int64_t j = 0; j < kGroup; ++j) hkk[i * kGroup + j] = h[(k * kGroup + i) * n + k * kGroup + j];
    invert_small(hkk, kGroup, &hkk_inv[k * kGroup * kGroup]);
  }
  std::vector<float> g(static_cast<size_t>(m * n), 0.0f);
  sgemm_acc(m, n, n, 1.0f, err.data(), n, hf.data(), n, g.data(), n);
  std::vector<float> target(static_cast<size_t>(m * kGroup));
  std::vector<uint32_t> new_codes(static_cast<size_t>(m));
  // A row whose E (hence G) has not changed since this block was last visited (one pass ago) would
  // get the same target and the same code again: it is skipped. visit counts block visits;
  // last_change[r] is the visit at which row r last changed.
  std::vector<int64_t> last_change(static_cast<size_t>(m), 0);
  std::vector<int64_t> rows(static_cast<size_t>(m));
  int64_t visit = 0;
  for (int32_t pass = 0; pass < refine_passes; ++pass) {
    std::atomic<int64_t> changed{0};
    for (int64_t col = n - kGroup; col >= 0; col -= kGroup, ++visit) {
      const int64_t k = col / kGroup;
      const double* hinv = &hkk_inv[k * kGroup * kGroup];
      int64_t count = 0;
      for (int64_t r = 0; r < m; ++r)
        if (pass == 0 || last_change[r] >= visit - blocks) rows[count++] = r;
      if (count == 0) continue;
      parallel_for(0, count, 512, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
          const int64_t r = rows[i];
          const float* gr = &g[r * n + col];
          for (int64_t j = 0; j < kGroup; ++j) {
            double s = 0.0;
            for (int64_t l = 0; l < kGroup; ++l) s += gr[l] * hinv[l * kGroup + j];
            target[i * kGroup + j] = static_cast<float>(w_hat[r * n + col + j] + s);
          }
        }
      });
      cb.quantize(target.data(), count, new_codes.data(), q.data());
      parallel_for(0, count, 256, [&](int64_t lo, int64_t hi) {
        int64_t local_changes = 0;
        for (int64_t i = lo; i < hi; ++i) {
          const int64_t r = rows[i];
          if (new_codes[i] == codes[r * blocks + k]) continue;
          const float* gr = &g[r * n + col];
          double dvec[kGroup];
          double lin = 0.0;
          for (int64_t j = 0; j < kGroup; ++j) {
            dvec[j] = static_cast<double>(w_hat[r * n + col + j]) - q[i * kGroup + j];
            lin += dvec[j] * gr[j];
          }
          double quad = 0.0;
          for (int64_t a = 0; a < kGroup; ++a)
            for (int64_t j = 0; j < kGroup; ++j)
              quad += dvec[a] * h[(col + a) * n + col + j] * dvec[j];
          if (!(2.0 * lin + quad < 0.0)) continue;
          ++local_changes;
          last_change[r] = visit;
          codes[r * blocks + k] = new_codes[i];
          for (int64_t j = 0; j < kGroup; ++j) {
            w_hat[r * n + col + j] = q[i * kGroup + j];
            err[r * n + col + j] = w[r * n + col + j] - q[i * kGroup + j];
          }
          float d8[kGroup];
          for (int64_t j = 0; j < kGroup; ++j) d8[j] = static_cast<float>(dvec[j]);
          add_rank8(&g[r * n], d8, &hf[col * n], n);
        }
        changed.fetch_add(local_changes);
      });
    }
    if (changed.load() == 0) break;
  }
}

ProxyLoss proxy_loss(const float* w, const float* w_hat, int64_t m, int64_t n, const double* h,
                     const float* row_scale) {
  auto scale_of = [&](int64_t r) { return row_scale ? static_cast<double>(row_scale[r]) : 1.0; };
  ProxyLoss result{0.0, 0.0};
  if (h == nullptr) {
    for (int64_t r = 0; r < m; ++r) {
      const double s2 = scale_of(r) * scale_of(r);
      double loss = 0.0, norm = 0.0;
      for (int64_t c = 0; c < n; ++c) {
        const double v = w[r * n + c], e = v - static_cast<double>(w_hat[r * n + c]);
        loss += e * e;
        norm += v * v;
      }
      result.loss += s2 * loss;
      result.norm += s2 * norm;
    }
    return result;
  }
  // tr(E H E^T) = sum_r e_r^T H e_r, in row chunks, all in double: the chunk's rows of E and of W
  // stacked as A (2 rows x n), G = A H by one GEMM, then sum G .* A per half.
  constexpr int64_t rows_per_chunk = 128;
  const int64_t chunk = std::min(m, rows_per_chunk);
  std::vector<double> a(static_cast<size_t>(2 * chunk * n)), g(a.size());
  for (int64_t r0 = 0; r0 < m; r0 += rows_per_chunk) {
    const int64_t rows = std::min(rows_per_chunk, m - r0);
    for (int64_t i = 0; i < rows; ++i) {
      const double s = scale_of(r0 + i);
      const float* wr = w + (r0 + i) * n;
      const float* hr = w_hat + (r0 + i) * n;
      double* er = &a[i * n];
      double* vr = &a[(rows + i) * n];
      for (int64_t c = 0; c < n; ++c) {
        er[c] = s * (static_cast<double>(wr[c]) - hr[c]);
        vr[c] = s * wr[c];
      }
    }
    std::fill(g.begin(), g.begin() + 2 * rows * n, 0.0);
    dgemm_acc(2 * rows, n, n, 1.0, a.data(), n, h, n, g.data(), n);
    for (int64_t i = 0; i < rows * n; ++i) result.loss += g[i] * a[i];
    for (int64_t i = rows * n; i < 2 * rows * n; ++i) result.norm += g[i] * a[i];
  }
  return result;
}

}  // namespace qs

extern "C" int32_t qs_damp(double* h, int64_t n, double sigma) {
  return qs::guard([&] {
    qs::require_not_null(h, "hessian");
    qs::require(n > 0, "n = ", n, " must be positive");
    qs::require(sigma >= 0.0 && std::isfinite(sigma), "damping = ", sigma,
                " must be finite and non-negative");
    qs::require_finite(h, n * n, "hessian");
    qs::damp_hessian(h, n, sigma);
  });
}

extern "C" int32_t qs_block_ldl(const double* h, int64_t n, double* lp, double* d) {
  return qs::guard([&] {
    qs::require_not_null(h, "hessian");
    qs::require_not_null(lp, "lp");
    qs::require_not_null(d, "d");
    qs::require(n > 0 && n % 8 == 0, "n = ", n, " must be a positive multiple of 8");
    qs::require_finite(h, n * n, "hessian");
    std::vector<double> l, blocks;
    qs::block_ldl(h, n, l, blocks);
    std::copy(l.begin(), l.end(), lp);
    std::copy(blocks.begin(), blocks.end(), d);
  });
}

extern "C" int32_t qs_block_ldlq(const float* w, int64_t m, int64_t n, const double* h,
                                 int32_t codebook_id, double resid_scale, int32_t rounding,
                                 int32_t refine_passes, uint32_t* codes, float* w_hat) {
  return qs::guard([&] {
    qs::require_not_null(w, "w");
    qs::require_not_null(codes, "codes");
    qs::require_not_null(w_hat, "w_hat");
    qs::require(m > 0, "m = ", m, " must be positive");
    qs::require(n > 0 && n % 8 == 0, "n = ", n, " must be a positive multiple of 8");
    qs::require(rounding == QS_ROUNDING_BLOCK_LDLQ || rounding == QS_ROUNDING_NEAREST, "rounding = ",
                rounding, " must be 0 (BlockLDLQ) or 1 (nearest)");
    qs::require(refine_passes >= 0, "refine_passes = ", refine_passes, " must be >= 0");
    int32_t bits = 0;
    double rho = 0, rho2 = 0;
    if (qs_codebook_info(codebook_id, &bits, &rho, &rho2) != QS_OK)
      qs::fail(QS_ERR_INVALID_ARGUMENT, qs_last_error());
    qs::require_finite(w, m * n, "w");
    if (rounding == QS_ROUNDING_BLOCK_LDLQ) {
      qs::require_not_null(h, "hessian");
      qs::require_finite(h, n * n, "hessian");
    }
    qs::block_ldlq(w, m, n, h, qs::CodebookRef{codebook_id, resid_scale}, rounding, refine_passes,
                   codes, w_hat);
  });
}

extern "C" int32_t qs_proxy_loss(const float* w, const float* w_hat, int64_t m, int64_t n,
                                 const double* h, double* loss) {
  return qs::guard([&] {
    qs::require_not_null(w, "w");
    qs::require_not_null(w_hat, "w_hat");
    qs::require_not_null(loss, "loss");
    qs::require(m > 0 && n > 0, "shape ", m, " x ", n, " must be positive");
    *loss = qs::proxy_loss(w, w_hat, m, n, h, nullptr).loss;
  });
}
