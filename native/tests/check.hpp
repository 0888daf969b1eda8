// Minimal assertion helpers for the native tests (each test is one executable run by ctest).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "quipsharp/quipsharp.h"

namespace qs_test {
// Test-data generator (splitmix64) with Box-Muller normals, identical on every platform.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() {
    return (static_cast<double>(next() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  }
  double normal() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    const double u = uniform(), v = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u));
    spare = radius * std::sin(6.283185307179586 * v);
    has_spare = true;
    return radius * std::cos(6.283185307179586 * v);
  }
  bool has_spare = false;
  double spare = 0.0;
};

// The CPU kernels this machine can run, scalar first (tests force each one).
inline std::vector<int32_t> cpu_kernels() {
  std::vector<int32_t> k = {QS_KERNEL_SCALAR};
  if (qs_cpu_kernel_available(QS_KERNEL_AVX2)) k.push_back(QS_KERNEL_AVX2);
  if (qs_cpu_kernel_available(QS_KERNEL_AVX512)) k.push_back(QS_KERNEL_AVX512);
  return k;
}

// The float64 product y = W x for each of `batch` inputs (W m x n row-major, x batch x n, y batch x m)
// and, per output, sum_c |W_rc x_c| (the scale of its rounding error).
struct DenseReference {
  std::vector<double> y, magnitude;
};

inline DenseReference dense_reference(const std::vector<float>& w, int64_t m, int64_t n,
                                      const std::vector<float>& x, int64_t batch) {
  DenseReference ref{std::vector<double>(batch * m, 0.0), std::vector<double>(batch * m, 0.0)};
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t c = 0; c < n; ++c) {
        const double p = double(w[r * n + c]) * x[b * n + c];
        ref.y[b * m + r] += p;
        ref.magnitude[b * m + r] += std::fabs(p);
      }
  return ref;
}

// max over outputs of |y - W x| / sum_c |W_rc x_c|.
inline double worst_relative_error(const DenseReference& ref, const std::vector<float>& y) {
  double worst = 0;
  for (size_t i = 0; i < y.size(); ++i) worst = std::max(worst, std::fabs(y[i] - ref.y[i]) / ref.magnitude[i]);
  return worst;
}

inline int& failures() {
  static int count = 0;
  return count;
}
}  // namespace qs_test

#define CHECK(cond)                                                                  \
  do {                                                                               \
    if (!(cond)) {                                                                   \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++qs_test::failures();                                                         \
    }                                                                                \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                   \
  do {                                                                                          \
    const double qs_a = (a), qs_b = (b);                                                        \
    if (!(std::fabs(qs_a - qs_b) <= (tol))) {                                                   \
      std::fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.10g, %s = %.10g, tol %.3g\n",      \
                   __FILE__, __LINE__, #a, qs_a, #b, qs_b, (double)(tol));                      \
      ++qs_test::failures();                                                                    \
    }                                                                                           \
  } while (0)

// Asserts a status-returning call succeeds, printing the library's message (last_error()) otherwise.
#define CHECK_OK_OF(call, last_error)                                                          \
  do {                                                                                         \
    const int qs_status = (call);                                                              \
    if (qs_status != QS_OK) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, qs_status, \
                   last_error());                                                              \
      ++qs_test::failures();                                                                   \
    }                                                                                          \
  } while (0)

// Asserts a status-returning call succeeds, printing qs_last_error() otherwise.
#define CHECK_OK(call) CHECK_OK_OF(call, qs_last_error)

#define CHECK_STATUS(call, expected)                                                          \
  do {                                                                                        \
    const int qs_status = (call);                                                             \
    if (qs_status != (expected)) {                                                            \
      std::fprintf(stderr, "%s:%d: %s returned %d, expected %d (%s)\n", __FILE__, __LINE__,   \
                   #call, qs_status, (int)(expected), qs_last_error());                       \
      ++qs_test::failures();                                                                  \
    }                                                                                         \
  } while (0)

#define TEST_MAIN_END()                                                       \
  do {                                                                        \
    if (qs_test::failures() != 0) {                                           \
      std::fprintf(stderr, "%d check(s) failed\n", qs_test::failures());      \
      return 1;                                                               \
    }                                                                         \
    std::printf("all checks passed\n");                                       \
    return 0;                                                                 \
  } while (0)
