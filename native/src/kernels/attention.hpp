// One attention head over the KV cache (see attention.cpp).
#pragma once

#include <cstdint>

namespace qs {

// Attention of query heads [head_begin, head_end) of one token over the cached rows first ..
// positions-1: out_h (head_dim floats at out + h * head_dim) = softmax_p(cap(scale * q_h . k_p)) v_p
// with q_h at q + h * head_dim, k_p at keys + p * stride + (h / group) * head_dim and v_p likewise in
// values (grouped-query attention: `group` query heads per cached head); cap(s) = softcap *
// tanh(s / softcap) when softcap > 0, else s. first > 0 is a sliding window. score: scratch of
// (head_end - head_begin) * (positions - first) floats. kernel: resolved (not QS_KERNEL_AUTO); inputs
// validated by the caller. The scalar kernel sums the scores in double; the AVX2 one (also run for
// AVX-512) in float lanes with FMA, and reads each cached row once for all the heads, so the two
// differ by float rounding (qs_attention states the bound).
void attend_heads(const float* q, const float* keys, const float* values, int64_t stride,
                  int64_t first, int64_t positions, int64_t head_dim, double scale, double softcap,
                  int64_t head_begin, int64_t head_end, int64_t group, float* score, float* out,
                  int32_t kernel);

}  // namespace qs
