// The AVX2 + FMA attention kernel (see attention_kernels.hpp): each score in four 8-lane float FMA
// chains, streaming through the cache position by position.
#include "kernels/attention_kernels.hpp"

#ifdef QS_X86
#include <immintrin.h>

#include <algorithm>
#include <cmath>

namespace qs {
namespace attention {
namespace {

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
__attribute__((target("avx2,fma"))) void attend_avx2_impl(const float* q, const float* keys,
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
}  // namespace

void attend_avx2(const float* q, const float* keys, const float* values, int64_t stride,
                 int64_t positions, int64_t hd, double scale, double softcap, const HeadRange& heads,
                 float* score, float* out) {
  attend_avx2_impl(q, keys, values, stride, positions, hd, scale, softcap, heads, score, out);
}

}  // namespace attention
}  // namespace qs
#endif  // QS_X86
