/* The C boundary of the CUDA engine (libquipsharp_cuda, built when a CUDA compiler is found; static
 * cudart, so the library loads on machines without a driver and reports "no device" there).
 * Same conventions as quipsharp.h: QS_OK / QS_ERR_* status codes, a thread-local message. */
#ifndef QUIPSHARP_CUDA_H
#define QUIPSHARP_CUDA_H

#include "quipsharp/quipsharp.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QS_ERR_NO_CUDA_DEVICE 6 /* no driver, or no device */

typedef struct qs_cuda_device {
  char name[256];
  int64_t total_bytes;
  int32_t sm_count;
  int32_t cc_major;
  int32_t cc_minor;
  int32_t memory_clock_khz;
  int32_t bus_width_bits;
  double peak_gbytes_per_s; /* 2 (DDR) * clock * bus width / 8 */
} qs_cuda_device;

/* The message of the last failed call on this thread ("" after a success). */
QS_API const char* qs_cuda_last_error(void);
/* *count = number of usable devices; 0 (with QS_OK) when there is no driver or no device, the
 * reason in qs_cuda_last_error(). */
QS_API int32_t qs_cuda_device_count(int32_t* count);
QS_API int32_t qs_cuda_device_info(int32_t index, qs_cuda_device* out);
/* E8P12 decode (§3.4) of `count` codes on device `index`: host buffers in and out (count * 8
 * floats), for checks against the CPU reference. */
QS_API int32_t qs_cuda_e8p_decode(int32_t index, const uint16_t* codes, int64_t count, float* out);

#ifdef __cplusplus
}
#endif

#endif /* QUIPSHARP_CUDA_H */
