// Internal API of damping, block LDL, BlockLDLQ and the proxy loss (§1.3, §5). Inputs are validated
// by the exported functions; these assume valid shapes and finite values.
#pragma once

#include <cstdint>
#include <vector>

#include "quipsharp/quipsharp.h"

namespace qs {

// A composite codebook (§4) by id, with its residual scale (<= 0: the codebook default).
struct CodebookRef {
  int32_t id;
  double resid_scale;
  // Nearest code for each of `count` 8-vectors (codebook units); `out` (count*8) receives the
  // reconstruction. Thread-safe.
  void quantize(const float* x, int64_t count, uint32_t* codes, float* out) const;
};

// H <- H / mean(diag H) + sigma I; fails with QS_ERR_NOT_POSITIVE_DEFINITE if mean(diag H) <= 0.
void damp_hessian(double* h, int64_t n, double sigma);

// H = L' D L'^T with 8x8 blocks (§5.1): lp (n*n) unit block-lower, d (n*8) the stacked D_k.
void block_ldl(const double* h, int64_t n, std::vector<double>& lp, std::vector<double>& d);

// BlockLDLQ (or nearest rounding) of w (m*n, codebook units) under damped SPD h (n*n).
void block_ldlq(const float* w, int64_t m, int64_t n, const double* h, const CodebookRef& cb,
                int32_t rounding, int32_t refine_passes, uint32_t* codes, float* w_hat);

// The proxy loss tr((W - W_hat) H (W - W_hat)^T) (§1.1) and its normalizer tr(W H W^T), summed in
// double over a float64 H (n*n; nullptr = the identity); row_scale (nullable, m values) multiplies
// row r of both W and W_hat first.
struct ProxyLoss {
  double loss, norm;
};
ProxyLoss proxy_loss(const float* w, const float* w_hat, int64_t m, int64_t n, const double* h,
                     const float* row_scale);

}  // namespace qs
