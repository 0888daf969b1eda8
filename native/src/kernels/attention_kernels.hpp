// The parts of the attention kernel shared by its files: attention_scalar.cpp (the reference, one
// double dot product per head and cached position) and attention_avx2.cpp (float FMA lanes, also
// what QS_KERNEL_AVX512 runs); attention.cpp picks one and holds the C entry points.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#define QS_X86 1
#endif

namespace qs {
namespace attention {

// Query heads [begin, end); `group` of them share one cached head (grouped-query attention).
struct HeadRange {
  int64_t begin, end, group;
  // Where head h's part of a cached row starts.
  int64_t cache_offset(int64_t h, int64_t hd) const { return h / group * hd; }
};

// exp(score - best) in place over `positions` scores; returns 1 / their sum.
float softmax_weights(float* score, int64_t positions);

// out (rows of the heads in `heads`) = the attention of q over positions cached rows (see qs_attention).
void attend_scalar(const float* q, const float* keys, const float* values, int64_t stride,
                   int64_t positions, int64_t hd, double scale, double softcap, const HeadRange& heads,
                   float* score, float* out);
#ifdef QS_X86
void attend_avx2(const float* q, const float* keys, const float* values, int64_t stride,
                 int64_t positions, int64_t hd, double scale, double softcap, const HeadRange& heads,
                 float* score, float* out);
#endif

}  // namespace attention
}  // namespace qs
