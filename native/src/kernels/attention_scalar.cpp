// The scalar reference of the attention kernel (see attention_kernels.hpp).
#include <algorithm>
#include <cmath>

#include "kernels/attention_kernels.hpp"

namespace qs {
namespace attention {

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

}  // namespace attention
}  // namespace qs
