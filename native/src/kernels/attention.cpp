// Attention of one token over the KV cache, the part of generation that grows with the context: at
// 1,024 tokens on the 4096-wide synthetic model the scalar loop (a double dot product per head and
// cached position, latency-bound at about one add per 4 cycles) took about 40 % of the time.
// The AVX2 kernel sums each score in four 8-lane float FMA chains and streams through the cache
// position by position, reading each row's part for all of its heads at once. This file picks the
// kernel and holds the entry points; the kernels are attention_scalar.cpp and attention_avx2.cpp.
#include "kernels/attention.hpp"
#include "kernels/attention_kernels.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "common/status.hpp"
#include "kernels/matvec.hpp"
#include "quipsharp/quipsharp.h"

namespace qs {

using namespace attention;

void attend_heads(const float* q, const float* keys, const float* values, int64_t stride,
                  int64_t first, int64_t positions, int64_t head_dim, double scale, double softcap,
                  int64_t head_begin, int64_t head_end, int64_t group, float* score, float* out,
                  int32_t kernel) {
  const HeadRange heads{head_begin, head_end, group};
  // A window starts the rows at `first`: the kernels see only the rows they attend to.
  keys += first * stride;
  values += first * stride;
  positions -= first;
#ifdef QS_X86
  if (kernel == QS_KERNEL_AVX2 || kernel == QS_KERNEL_AVX512) {
    attend_avx2(q, keys, values, stride, positions, head_dim, scale, softcap, heads, score, out);
    return;
  }
#endif
  attend_scalar(q, keys, values, stride, positions, head_dim, scale, softcap, heads, score, out);
}

}  // namespace qs

extern "C" int32_t qs_attention_window(const float* q, int64_t heads, int64_t kv_heads,
                                       const float* keys, const float* values, int64_t first,
                                       int64_t positions, int64_t head_dim, int64_t stride,
                                       double scale, double softcap, float* out, int32_t kernel) {
  return qs::guard([&] {
    qs::require_not_null(q, "q");
    qs::require_not_null(keys, "keys");
    qs::require_not_null(values, "values");
    qs::require_not_null(out, "out");
    qs::require(positions > 0, "positions = ", positions, " must be positive");
    qs::require(first >= 0 && first < positions, "first = ", first, " must be in [0, positions = ",
                positions, ")");
    qs::require(head_dim > 0, "head_dim = ", head_dim, " must be positive");
    qs::require(kv_heads > 0 && heads > 0 && heads % kv_heads == 0, "heads = ", heads,
                " must be a positive multiple of kv_heads = ", kv_heads);
    qs::require(kv_heads <= INT64_MAX / head_dim, "kv_heads x head_dim overflows");
    const int64_t row = kv_heads * head_dim;
    qs::require(stride >= row, "stride = ", stride, " must be at least kv_heads x head_dim = ", row);
    qs::require(positions <= INT64_MAX / 64 / stride && heads <= INT64_MAX / 64 / std::max(head_dim, positions),
                "positions = ", positions, " x stride = ", stride, " is too large");
    qs::require(std::isfinite(scale), "scale must be finite");
    qs::require(std::isfinite(softcap) && softcap >= 0, "softcap = ", softcap,
                " must be finite and >= 0 (0: no cap)");
    qs::require_finite(q, heads * head_dim, "q");
    const auto rows_finite = [&](const float* rows, const char* name) {
      for (int64_t p = first; p < positions; ++p)
        for (int64_t i = 0; i < row; ++i)
          if (!std::isfinite(rows[p * stride + i]))
            qs::fail(QS_ERR_NON_FINITE, name, "[", p, "][", i, "] = ", rows[p * stride + i],
                     " is not finite");
    };
    rows_finite(keys, "keys");
    rows_finite(values, "values");
    const int32_t k = qs::resolve_kernel(kernel);
    std::vector<float> score(static_cast<size_t>(heads * (positions - first)));
    qs::attend_heads(q, keys, values, stride, first, positions, head_dim, scale, softcap, 0, heads,
                     heads / kv_heads, score.data(), out, k);
  });
}

extern "C" int32_t qs_attention(const float* q, int64_t heads, int64_t kv_heads, const float* keys,
                                const float* values, int64_t positions, int64_t head_dim,
                                int64_t stride, double scale, float* out, int32_t kernel) {
  return qs_attention_window(q, heads, kv_heads, keys, values, 0, positions, head_dim, stride, scale,
                             0.0, out, kernel);
}
