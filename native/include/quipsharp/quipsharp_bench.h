/*
 * quipsharp benchmark drivers (libquipsharp_bench, behind `quipsharp bench`; never used by tests to
 * assert speed). A separate library over the public C API of quipsharp.h: the engine itself carries
 * no benchmark code. Same conventions: status codes, the message in qs_last_error().
 */
#ifndef QUIPSHARP_BENCH_H
#define QUIPSHARP_BENCH_H

#include "quipsharp/quipsharp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the largest (level >= 3) CPU cache in bytes, from sysfs (32 MiB if unknown). */
QS_API int64_t qs_cache_l3_bytes(void);

typedef struct qs_matvec_bench {
  double seconds_per_call;        /* one layer */
  double gweights_per_s;          /* rows * cols / time */
  double weight_gbytes_per_s;     /* weight bytes read / time (codes for 2/3/4 bits) */
  double fp32_equiv_gbytes_per_s; /* rows * cols * 4 / time */
  int64_t calls;
  int64_t layers;                 /* distinct matrices cycled over */
  int64_t weight_bytes_per_layer;
} qs_matvec_bench;

/* Times y = layer(x) for random layers of the given bits (2, 3, 4: the quantized inference path with
 * both RHTs; 16, 32: fp16 / fp32 mat-vec) on the current thread count, for at least min_seconds.
 * layers <= 0: enough layers for 4x the last-level cache. */
QS_API int32_t qs_bench_matvec(int32_t bits, int64_t rows, int64_t cols, int64_t layers,
                               int32_t kernel, double min_seconds, uint64_t seed,
                               qs_matvec_bench* out);

typedef struct qs_memory_bench {
  double read_gbytes_per_s;   /* bytes read per second (vectorized sum) */
  double memcpy_gbytes_per_s; /* bytes copied per second (each byte read once and written once) */
  int64_t bytes;              /* buffer size */
  int32_t threads;
} qs_memory_bench;

/* Streaming read and memcpy bandwidth over buffers of `bytes` (<= 0: max(256 MiB, 8x L3)). */
QS_API int32_t qs_bench_memory(int64_t bytes, double min_seconds, qs_memory_bench* out);

#ifdef __cplusplus
}
#endif

#endif /* QUIPSHARP_BENCH_H */
