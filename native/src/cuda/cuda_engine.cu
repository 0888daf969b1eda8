// The CUDA engine's device discovery and its first kernel (E8P12 decode, §3.4), over the C boundary
// of quipsharp_cuda.h. Errors never abort: every entry point returns a status and sets a
// thread-local message; "no driver" and "no device" are QS_ERR_NO_CUDA_DEVICE.
#include <cuda_runtime.h>

#include <cstring>
#include <string>

#include "cuda/cuda_status.cuh"
#include "cuda/e8p_decode.cuh"
#include "quipsharp/quipsharp_cuda.h"

namespace qs_cuda {

std::string& last_error() {
  static thread_local std::string message;
  return message;
}

int32_t check_device(int32_t index) {
  int32_t n = 0;
  const int32_t s = qs_cuda_device_count(&n);
  if (s != QS_OK) return s;
  if (n == 0) return fail(QS_ERR_NO_CUDA_DEVICE, "no CUDA device: " + last_error());
  if (index < 0 || index >= n)
    return fail(QS_ERR_INVALID_ARGUMENT,
                "device index " + std::to_string(index) + " is outside [0, " + std::to_string(n) + ")");
  return QS_OK;
}

}  // namespace qs_cuda

using namespace qs_cuda;

namespace {

__constant__ uint32_t c_packed[256];

__global__ void e8p_decode_kernel(const uint16_t* codes, int64_t count, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) qs_cuda::e8p_decode_code(codes[i], c_packed, out + 8 * i);
}

}  // namespace

extern "C" const char* qs_cuda_last_error(void) { return last_error().c_str(); }

extern "C" int32_t qs_cuda_device_count(int32_t* count) {
  if (count == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "count must not be null");
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  *count = 0;
  if (e != cudaSuccess) {
    last_error() = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e);
    cudaGetLastError();  // clear the sticky error for the next call
    return QS_OK;
  }
  *count = n;
  return ok();
}

extern "C" int32_t qs_cuda_device_info(int32_t index, qs_cuda_device* out) {
  if (out == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "out must not be null");
  const int32_t s = check_device(index);
  if (s != QS_OK) return s;
  cudaDeviceProp prop;
  QS_CUDA_TRY(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
  int clock_khz = 0, bus_bits = 0;
  QS_CUDA_TRY(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, index),
              "memory clock rate");
  QS_CUDA_TRY(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, index),
              "memory bus width");
  std::memset(out, 0, sizeof(*out));
  std::strncpy(out->name, prop.name, sizeof(out->name) - 1);
  out->total_bytes = static_cast<int64_t>(prop.totalGlobalMem);
  out->sm_count = prop.multiProcessorCount;
  out->cc_major = prop.major;
  out->cc_minor = prop.minor;
  out->memory_clock_khz = clock_khz;
  out->bus_width_bits = bus_bits;
  out->peak_gbytes_per_s = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
  return ok();
}

extern "C" int32_t qs_cuda_e8p_decode(int32_t index, const uint16_t* codes, int64_t count,
                                      float* out) {
  if (count < 0) return fail(QS_ERR_INVALID_ARGUMENT, "count = " + std::to_string(count) + " must be >= 0");
  if (count > 0 && (codes == nullptr || out == nullptr))
    return fail(QS_ERR_INVALID_ARGUMENT, "codes and out must not be null");
  const int32_t s = check_device(index);
  if (s != QS_OK) return s;
  if (count == 0) return ok();
  QS_CUDA_TRY(cudaSetDevice(index), "cudaSetDevice");
  int32_t packed[256];
  if (qs_e8p_packed_table(packed) != QS_OK) return fail(QS_ERR_INTERNAL, qs_last_error());
  QS_CUDA_TRY(cudaMemcpyToSymbol(c_packed, packed, sizeof(packed)), "copy the codebook table");
  DeviceBuffer d_codes, d_out;
  QS_CUDA_TRY(cudaMalloc(&d_codes.p, count * sizeof(uint16_t)), "cudaMalloc codes");
  QS_CUDA_TRY(cudaMalloc(&d_out.p, count * 8 * sizeof(float)), "cudaMalloc out");
  QS_CUDA_TRY(cudaMemcpy(d_codes.p, codes, count * sizeof(uint16_t), cudaMemcpyHostToDevice), "copy codes");
  const int threads = 256;
  const int64_t blocks = (count + threads - 1) / threads;
  if (blocks > 2147483647) return fail(QS_ERR_INVALID_ARGUMENT, "count is too large for one launch");
  e8p_decode_kernel<<<static_cast<unsigned>(blocks), threads>>>(
      static_cast<const uint16_t*>(d_codes.p), count, static_cast<float*>(d_out.p));
  QS_CUDA_TRY(cudaGetLastError(), "e8p_decode_kernel launch");
  QS_CUDA_TRY(cudaMemcpy(out, d_out.p, count * 8 * sizeof(float), cudaMemcpyDeviceToHost), "copy out");
  return ok();
}
