// Attention of one token over the KV cache, the part of generation that grows with the context: at
// 1,024 tokens on the 4096-wide synthetic model the scalar loop (a double dot product per head and
// cached position, latency-bound at about one add per 4 cycles) took about 40 % of the time.
// The AVX2 kernel sums each score in four 8-lane float FMA chains and streams through the cache
// position by position, reading each row's part for all of its heads at once.
#include "kernels/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QS_X86 1
#endif

#include "common/status.hpp"
#include "kernels/matvec.hpp"
#include "quipsharp/quipsharp.h"

namespace qs {
namespace {

// exp(score - best) in place; returns 1 / their sum.
float softmax_weights(float* score, int64_t positions) {
  float best = -INFINITY;
  for (int64_t p = 0; p < positions; ++p) best = std::max(best, score[p]);
  double total = 0;
  for (int64_t p = 0; p < positions; ++p) {
    score[p] = std::exp(score[p] - best);
    total += score[p];
  }
  return static_cast<float>(1.0 / total);
}

// Query heads [begin, end); `group` of them share one cached head (grouped-query attention).
struct HeadRange {
  int64_t begin, end, group;
  // Where head h's part of a cached row starts.
  int64_t cache_offset(int64_t h, int64_t hd) const { return h / group * hd; }
};

void attend_scalar(const float* q, const float* keys, const float* values, int64_t stride,
                   int64_t positions, int64_t hd, double scale, double softcap, const HeadRange& heads,
                   float* score, float* out) {
  for (int64_t h = heads.begin; h < heads.end; ++h) {
    const float* qh = q + h * hd;
    const int64_t kvo = heads.cache_offset(h, hd);
    for (int64_t p = 0; p < positions; ++p) {
      const float* kp = keys + p * stride + kvo;
      double sc = 0;
      for (int64_t i = 0; i < hd; ++i) sc += static_cast<double>(qh[i]) * kp[i];
      score[p] = static_cast<float>(softcap > 0 ? softcap * std::tanh(sc * scale / softcap) : sc * scale);
    }
    const float inv = softmax_weights(score, positions);
    float* oh = out + h * hd;
    std::fill(oh, oh + hd, 0.0f);
    for (int64_t p = 0; p < positions; ++p) {
      const float a = score[p] * inv;
      const float* vp = values + p * stride + kvo;
      for (int64_t i = 0; i < hd; ++i) oh[i] += a * vp[i];
    }
  }
}

#ifdef QS_X86
__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  const __m256 s = _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_movehdup_ps(h));
  float total = _mm_cvtss_f32(h);
  for (; i < n; ++i) total += a[i] * b[i];
  return total;
}

// Position-major: row p's keys (then values) of all the range's heads are read in one contiguous
// run. On the synthetic model's cache (32 heads of 128, 1,024 positions, one thread) that streams
// at about 14 GB/s; one head at a time (512 bytes of every 16 KiB row) at about 8 GB/s, and
// software prefetching on top of whole rows made it slower.
__attribute__((target("avx2,fma"))) void attend_avx2(const float* q, const float* keys,
                                                     const float* values, int64_t stride,
                                                     int64_t positions, int64_t hd, double scale,
                                                     double softcap, const HeadRange& heads, float* score,
                                                     float* out) {
  const float s = static_cast<float>(scale);
  const int64_t n = heads.end - heads.begin;
  for (int64_t p = 0; p < positions; ++p) {
    const float* kp = keys + p * stride;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t h = heads.begin + j;
      score[j * positions + p] = dot_avx2(q + h * hd, kp + heads.cache_offset(h, hd), hd) * s;
    }
  }
  if (softcap > 0)  // Gemma 2: tanh bounds the scores (in double, then rounded once)
    for (int64_t i = 0; i < n * positions; ++i)
      score[i] = static_cast<float>(softcap * std::tanh(score[i] / softcap));
  for (int64_t j = 0; j < n; ++j) {
    float* sj = score + j * positions;
    const float inv = softmax_weights(sj, positions);
    for (int64_t p = 0; p < positions; ++p) sj[p] *= inv;
  }
  float* o = out + heads.begin * hd;
  std::fill(o, o + n * hd, 0.0f);
  const int64_t vec_end = hd - hd % 8;
  for (int64_t p = 0; p < positions; ++p) {
    const float* vp = values + p * stride;
    for (int64_t j = 0; j < n; ++j) {
      const int64_t h = heads.begin + j;
      const float a = score[j * positions + p];
      const __m256 av = _mm256_set1_ps(a);
      const float* v = vp + heads.cache_offset(h, hd);
      float* oh = out + h * hd;
      for (int64_t c = 0; c < vec_end; c += 8)
        _mm256_storeu_ps(oh + c, _mm256_fmadd_ps(av, _mm256_loadu_ps(v + c), _mm256_loadu_ps(oh + c)));
      for (int64_t c = vec_end; c < hd; ++c) oh[c] += a * v[c];
    }
  }
}
#endif

}  // namespace

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
