/* The C boundary of the CUDA engine (libquipsharp_cuda, built when a CUDA compiler is found; static
 * cudart, so the library loads on machines without a driver and reports "no device" there).
 * Same conventions as quipsharp.h: QS_OK / QS_ERR_* status codes, a thread-local message. */
#ifndef QUIPSHARP_CUDA_H
#define QUIPSHARP_CUDA_H

#include "quipsharp/quipsharp.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses: QS_OK / QS_ERR_* of quipsharp.h; a CUDA failure is QS_ERR_NO_CUDA_DEVICE (no driver or
 * device), QS_ERR_DEVICE_OUT_OF_MEMORY (a device allocation) or QS_ERR_CUDA (any other). */

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

/* ---- Randomized Hadamard transform on the device (§2) ---------------------------------------- */

/* For each of the `batch` contiguous vectors of length n (a supported order, §2.2), in place,
 * exactly as qs_rht_apply_f32 with axis = 1: forward (inverse = 0) v <- M_n^T (s ⊙ v), inverse
 * v <- s ⊙ (M_n v); signs has n entries. Host buffers (copied to and from device `index`). n is
 * limited by the device's shared memory per block (n * 4 bytes + 128; 56 K entries on an H100). */
QS_API int32_t qs_cuda_rht(int32_t index, float* x, int64_t batch, int64_t n, const float* signs,
                           int32_t inverse);
/* The same on device memory (x, signs device pointers) on `stream` (a cudaStream_t, NULL = the
 * default stream); returns after the launch, without waiting for it. */
QS_API int32_t qs_cuda_rht_device(int32_t index, float* x, int64_t batch, int64_t n,
                                  const float* signs, int32_t inverse, void* stream);

/* ---- A quantized layer on the device (§7) ----------------------------------------------------- */

/* The device twin of qs_qlayer: the same matrix description (validated the same way) on device
 * `index`, in *out. Forward = §7.1: u = M_n^T (s_in ⊙ x) (one kernel, fp16 out with a power-of-two
 * scale per vector), z = W~ u, y = (s_out wscale) ⊙ (M_m z) (one kernel). Batch <= 16 runs the fused
 * decode + mma kernel (codes read once per 8 vectors); larger batches decompress W~ to fp16 and run
 * a tensor-core GEMM. Fails (message in qs_cuda_last_error()) with QS_ERR_INVALID_ARGUMENT for a bad
 * description or a shape the device cannot run, or a CUDA status. One call at a time per layer
 * (calls are serialised). */
typedef struct qs_cuda_layer qs_cuda_layer;
QS_API int32_t qs_cuda_layer_create(int32_t index, const qs_qlinear_desc* desc, qs_cuda_layer** out);
QS_API void qs_cuda_layer_free(qs_cuda_layer* layer);
/* Bytes of code storage one pass of the fused kernel reads (padded layout). */
QS_API int64_t qs_cuda_layer_weight_bytes(const qs_cuda_layer* layer);
/* Device bytes the layer holds now (codes, tables, scratch). */
QS_API int64_t qs_cuda_layer_device_bytes(const qs_cuda_layer* layer);

#define QS_CUDA_PATH_AUTO 0  /* fused for batch <= 16, else decompress + GEMM */
#define QS_CUDA_PATH_FUSED 1
#define QS_CUDA_PATH_GEMM 2
/* Forces a path for every later call (tests compare the two). */
QS_API int32_t qs_cuda_layer_set_path(qs_cuda_layer* layer, int32_t path);

/* y (batch x m) = layer(x (batch x n)); host buffers. matvec is batch = 1. */
QS_API int32_t qs_cuda_layer_matvec(qs_cuda_layer* layer, const float* x, float* y);
QS_API int32_t qs_cuda_layer_matmul(qs_cuda_layer* layer, const float* x, int64_t batch, float* y);
/* The same on device pointers (x: batch x n, y: batch x m) on `stream` (NULL = default); returns
 * after the launches. */
QS_API int32_t qs_cuda_layer_forward_device(qs_cuda_layer* layer, const float* x, int64_t batch,
                                            float* y, void* stream);
/* The decoded matrix W~ in codebook units (rht_rows x code_cols, row-major, as qs_codebook_decode
 * gives for the codes), decoded on the device from its layout; host buffer. */
QS_API int32_t qs_cuda_layer_decode(qs_cuda_layer* layer, float* out);
/* Benchmark hook: only the decode + mat-vec kernel(s) of the current path for `batch` vectors, on
 * the layer's scratch activations, accumulating into its scratch output (the values are not
 * meaningful; the next forward clears them). */
QS_API int32_t qs_cuda_layer_core_device(qs_cuda_layer* layer, int64_t batch, void* stream);

#ifdef __cplusplus
}
#endif

#endif /* QUIPSHARP_CUDA_H */
