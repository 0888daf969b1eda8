// Status reporting of the CUDA engine (quipsharp_cuda.h): one thread-local message for all of its
// entry points, CUDA errors mapped to QS_ERR_* codes. Nothing here aborts.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "quipsharp/quipsharp_cuda.h"

namespace qs_cuda {

// The thread-local message behind qs_cuda_last_error() (defined in cuda_engine.cu).
std::string& last_error();

inline int32_t fail(int32_t code, const std::string& message) {
  last_error() = message;
  return code;
}

inline int32_t ok() {
  last_error().clear();
  return QS_OK;
}

// A CUDA call's failure as a status: out of device memory, no device, or another CUDA error.
inline int32_t cuda_status(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return QS_OK;
  const std::string msg = what + ": " + cudaGetErrorString(e);
  cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
  if (e == cudaErrorMemoryAllocation) return fail(QS_ERR_DEVICE_OUT_OF_MEMORY, "out of GPU memory: " + msg);
  if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || e == cudaErrorInvalidDevice)
    return fail(QS_ERR_NO_CUDA_DEVICE, msg);
  return fail(QS_ERR_CUDA, msg);
}

#define QS_CUDA_TRY(call, what)                                  \
  do {                                                           \
    const int32_t qs_s_ = ::qs_cuda::cuda_status((call), (what)); \
    if (qs_s_ != QS_OK) return qs_s_;                            \
  } while (0)

#define QS_TRY(status_expr)                  \
  do {                                       \
    const int32_t qs_s_ = (status_expr);     \
    if (qs_s_ != QS_OK) return qs_s_;        \
  } while (0)

// QS_OK if `index` names a usable device; QS_ERR_NO_CUDA_DEVICE / QS_ERR_INVALID_ARGUMENT otherwise.
int32_t check_device(int32_t index);

// Restores the calling thread's current device on scope exit (entry points select their own).
struct DeviceScope {
  int previous = -1;
  explicit DeviceScope() { cudaGetDevice(&previous); }
  ~DeviceScope() {
    if (previous >= 0) cudaSetDevice(previous);
  }
};

// One device allocation, freed on every path.
struct DeviceBuffer {
  void* p = nullptr;
  size_t bytes = 0;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { reset(); }
  void reset() {
    if (p) cudaFree(p);
    p = nullptr;
    bytes = 0;
  }
  // Allocates `n` bytes (zeroed) unless at least that many are held; "what" names it in errors.
  int32_t ensure(size_t n, const char* what) {
    if (p != nullptr && bytes >= n) return QS_OK;
    reset();
    const cudaError_t e = cudaMalloc(&p, n == 0 ? 1 : n);
    if (e != cudaSuccess) {
      p = nullptr;
      return cuda_status(e, std::string("cudaMalloc of ") + std::to_string(n) + " bytes for " + what);
    }
    bytes = n;
    // cudaMemset runs on the legacy default stream and may return before it is done; wait, so that
    // work on any other stream (forward_device takes the caller's) sees the zeros.
    const cudaError_t m = cudaMemset(p, 0, n == 0 ? 1 : n);
    return cuda_status(m == cudaSuccess ? cudaDeviceSynchronize() : m, std::string("clearing ") + what);
  }
  template <typename T>
  T* as() const { return static_cast<T*>(p); }
};

}  // namespace qs_cuda
