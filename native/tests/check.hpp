// Minimal assertion helpers for the native tests (each test is one executable run by ctest).
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "quipsharp/quipsharp.h"

namespace qs_test {
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

// Asserts a status-returning call succeeds, printing qs_last_error() otherwise.
#define CHECK_OK(call)                                                                         \
  do {                                                                                         \
    const int qs_status = (call);                                                              \
    if (qs_status != QS_OK) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, qs_status, \
                   qs_last_error());                                                           \
      ++qs_test::failures();                                                                   \
    }                                                                                          \
  } while (0)

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
