// libquipsharp_cuda for builds without a CUDA compiler (QUIPSHARP_ENABLE_CUDA=OFF, or AUTO finding
// none): the same C boundary (quipsharp_cuda.h), so that the Java bindings link and load everywhere;
// there are no devices, and every device entry point reports QS_ERR_NO_CUDA_DEVICE saying why.
#include <string>

#include "quipsharp/quipsharp_cuda.h"

namespace {

thread_local std::string last_error;

int32_t no_engine() {
  last_error = "no CUDA device: this build of quipsharp has no CUDA engine (no CUDA compiler was found "
               "when it was built; see README, \"CUDA engine\")";
  return QS_ERR_NO_CUDA_DEVICE;
}

}  // namespace

extern "C" {

const char* qs_cuda_last_error(void) { return last_error.c_str(); }

int32_t qs_cuda_device_count(int32_t* count) {
  if (count == nullptr) {
    last_error = "count must not be null";
    return QS_ERR_INVALID_ARGUMENT;
  }
  *count = 0;
  no_engine();
  return QS_OK;
}

int32_t qs_cuda_device_info(int32_t, qs_cuda_device*) { return no_engine(); }
int32_t qs_cuda_e8p_decode(int32_t, const uint16_t*, int64_t, float*) { return no_engine(); }
int32_t qs_cuda_rht(int32_t, float*, int64_t, int64_t, const float*, int32_t) { return no_engine(); }
int32_t qs_cuda_rht_device(int32_t, float*, int64_t, int64_t, const float*, int32_t, void*) { return no_engine(); }

int32_t qs_cuda_layer_create(int32_t, const qs_qlinear_desc*, qs_cuda_layer**) { return no_engine(); }
void qs_cuda_layer_free(qs_cuda_layer*) {}
int64_t qs_cuda_layer_weight_bytes(const qs_cuda_layer*) { return 0; }
int64_t qs_cuda_layer_device_bytes(const qs_cuda_layer*) { return 0; }
int32_t qs_cuda_layer_set_path(qs_cuda_layer*, int32_t) { return no_engine(); }
int32_t qs_cuda_layer_matvec(qs_cuda_layer*, const float*, float*) { return no_engine(); }
int32_t qs_cuda_layer_matmul(qs_cuda_layer*, const float*, int64_t, float*) { return no_engine(); }
int32_t qs_cuda_layer_forward_device(qs_cuda_layer*, const float*, int64_t, float*, void*) { return no_engine(); }
int32_t qs_cuda_layer_decode(qs_cuda_layer*, float*) { return no_engine(); }
int32_t qs_cuda_layer_core_device(qs_cuda_layer*, int64_t, void*) { return no_engine(); }

}  // extern "C"
