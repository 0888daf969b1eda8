// The device layer (qs_cuda_layer, §7.1) and the device RHT entry points of quipsharp_cuda.h.
// Inputs are validated by the CPU library (qs_qlayer_create, qs_qlinear_shape, ...), so both engines
// accept and refuse exactly the same layers with the same messages.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "cuda/cuda_kernels.cuh"
#include "cuda/cuda_status.cuh"
#include "cuda/device_layout.hpp"
#include "quipsharp/quipsharp_cuda.h"

using namespace qs_cuda;

namespace {

constexpr int64_t kFusedMaxBatch = 16;  // AUTO path: fused up to here, decompress + GEMM above

int32_t from_cpu_status(int32_t status) {
  if (status == QS_OK) return QS_OK;
  return fail(status, qs_last_error());
}

// Upload helper: cudaMemcpy of `bytes` from host into a buffer sized for it.
int32_t upload(DeviceBuffer& buf, const void* host, size_t bytes, const char* what) {
  QS_TRY(buf.ensure(bytes, what));
  return cuda_status(cudaMemcpy(buf.p, host, bytes, cudaMemcpyHostToDevice), std::string("copy ") + what);
}

// The ±1 base of order mb to apply as G (row-major): H^T for M^T (transpose), H for M.
int32_t base_matrix(int32_t mb, bool transpose, std::vector<int8_t>& out) {
  out.assign(static_cast<size_t>(mb) * mb, 1);
  if (mb == 1) return QS_OK;
  std::vector<int8_t> h(out.size());
  QS_TRY(from_cpu_status(qs_hadamard_base_matrix(mb, h.data())));
  for (int a = 0; a < mb; ++a)
    for (int k = 0; k < mb; ++k) out[a * mb + k] = transpose ? h[k * mb + a] : h[a * mb + k];
  return QS_OK;
}

int32_t max_shared_optin(int device, int* out) {
  return cuda_status(cudaDeviceGetAttribute(out, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
                     "shared memory per block");
}

int32_t require_rht_fits(int device, int64_t n, const char* name) {
  int optin = 0;
  QS_TRY(max_shared_optin(device, &optin));
  if (rht_shared_bytes(n) > static_cast<size_t>(optin))
    return fail(QS_ERR_INVALID_ARGUMENT, std::string(name) + " = " + std::to_string(n) +
                                             " is too long for one block's shared memory on device " +
                                             std::to_string(device) + " (" + std::to_string(optin) +
                                             " bytes; the RHT kernel needs 4 n + 128)");
  // Once per device (cudaFuncSetAttribute on every call would be host time in every RHT call).
  static std::mutex allowed_mutex;
  static std::vector<bool> allowed;
  std::lock_guard<std::mutex> lock(allowed_mutex);
  if (device < static_cast<int>(allowed.size()) && allowed[device]) return QS_OK;
  QS_CUDA_TRY(allow_kernel_shared_memory(optin), "allowing the kernels their shared memory");
  if (device >= static_cast<int>(allowed.size())) allowed.resize(device + 1, false);
  allowed[device] = true;
  return QS_OK;
}

// The common part of an RHT launch: vectors of in_count values (stride in_ld), zero-padded to the
// transform length n = mb * len; without the transform only signs, scales and padding apply.
RhtArgs rht_args(const float* in, int64_t in_ld, int64_t in_count, int64_t n, int mb, const int8_t* G,
                 bool transform) {
  RhtArgs a;
  a.in = in;
  a.in_ld = in_ld;
  a.in_count = in_count;
  a.n = n;
  a.mb = mb;
  a.len = n / mb;
  a.G = G;
  a.transform = transform;
  a.norm = transform ? 1.0f / std::sqrt(static_cast<float>(n)) : 1.0f;
  return a;
}

int32_t launch_rht(const RhtArgs& a, int64_t batch, cudaStream_t stream) {
  if (batch <= 0) return QS_OK;
  if (batch > 2147483647) return fail(QS_ERR_INVALID_ARGUMENT, "batch is too large for one launch");
  return cuda_status(launch_rht_kernel(a, static_cast<unsigned>(batch), stream), "rht_kernel launch");
}

}  // namespace

struct qs_cuda_layer {
  std::mutex mutex;
  int32_t device = 0;
  int32_t bits = 2;
  int32_t use_rht = 1;
  int32_t path = QS_CUDA_PATH_AUTO;
  int64_t m = 0, n = 0, rht_rows = 0, rht_cols = 0, code_cols = 0;
  int32_t mb_in = 1, mb_out = 1;
  float inv_rho2 = 0.0f;
  int sm_count = 1;
  FusedShape shape;
  FusedGrid grid;
  DeviceBuffer w1, w2, e3, packed, e81b_half, e81b_f32, g_in, g_out, s_in, s_out;
  // Scratch, grown with the batch: fp16 activations, fp32 accumulators (kept zero between calls),
  // per-vector inverse scales, host-call staging, the fp16 matrix for the GEMM path.
  DeviceBuffer act, z, inv_scale, x_stage, y_stage, w16;
  int64_t scratch_batch = 0;
  // The fused kernel adds into z, so z must be zero where it adds. The output RHT clears the rows it
  // reads; z_dirty marks that other rows may hold values: the GEMM path stores whole 16-vector tiles
  // (rows batch .. 16 * tiles - 1 keep U x W of stale activations), the core-only benchmark hook
  // never clears, a failed call may stop half way. The next fused forward clears z first.
  bool z_dirty = false;
};

namespace {

int32_t ensure_scratch(qs_cuda_layer* L, int64_t batch) {
  const int64_t padded = (batch + 15) / 16 * 16;
  if (padded <= L->scratch_batch) return QS_OK;
  QS_TRY(L->act.ensure(static_cast<size_t>(padded * L->shape.cols_pad) * sizeof(__half), "activations"));
  QS_TRY(L->z.ensure(static_cast<size_t>(padded * L->shape.rows_pad) * sizeof(float), "accumulators"));
  QS_TRY(L->inv_scale.ensure(static_cast<size_t>(padded) * sizeof(float), "activation scales"));
  L->scratch_batch = padded;
  return QS_OK;
}

bool use_fused(const qs_cuda_layer* L, int64_t batch) {
  if (L->path == QS_CUDA_PATH_FUSED) return true;
  if (L->path == QS_CUDA_PATH_GEMM) return false;
  return batch <= kFusedMaxBatch;
}

LayerCodes codes_of(const qs_cuda_layer* L) {
  LayerCodes c;
  c.w1 = L->w1.as<uint64_t>();
  c.w2 = L->bits == 4 ? L->w2.as<uint64_t>() : nullptr;
  c.e3 = L->bits == 3 ? L->e3.as<uint32_t>() : nullptr;
  c.packed = L->packed.as<uint32_t>();
  c.inv_rho2 = L->inv_rho2;
  c.bits = L->bits;
  c.s = L->shape;
  return c;
}

int32_t launch_fused(qs_cuda_layer* L, int64_t batch, cudaStream_t stream) {
  FusedArgs a;
  a.c = codes_of(L);
  a.e81b_half = L->e81b_half.as<uint4>();
  a.act_ld = L->shape.cols_pad;
  a.z_ld = L->shape.rows_pad;
  a.g = L->grid;
  for (int64_t b0 = 0; b0 < batch; b0 += kMmaBatch) {
    a.act = L->act.as<__half>() + b0 * L->shape.cols_pad;
    a.z = L->z.as<float>() + b0 * L->shape.rows_pad;
    a.nb = static_cast<int>(batch - b0 < kMmaBatch ? batch - b0 : kMmaBatch);
    QS_CUDA_TRY(launch_fused_kernel(L->bits, a, stream), "fused_kernel launch");
  }
  return QS_OK;
}

DecodeArgs decode_args(qs_cuda_layer* L) {
  DecodeArgs d;
  d.c = codes_of(L);
  d.e81b = L->e81b_f32.as<float>();
  return d;
}

int32_t launch_decode(const DecodeArgs& d, cudaStream_t stream) {
  return cuda_status(launch_decode_kernel(d, stream), "decode_kernel launch");
}

int32_t launch_gemm(qs_cuda_layer* L, int64_t batch, cudaStream_t stream) {
  QS_TRY(L->w16.ensure(static_cast<size_t>(L->shape.rows_pad * L->shape.cols_pad) * sizeof(__half),
                       "the decompressed fp16 matrix"));
  DecodeArgs d = decode_args(L);
  d.out_f16 = L->w16.as<__half>();
  QS_TRY(launch_decode(d, stream));
  const int64_t batch_tiles = (batch + 15) / 16;
  const int64_t warps = batch_tiles * L->shape.row_tiles;
  if ((warps + 7) / 8 > 2147483647) return fail(QS_ERR_INVALID_ARGUMENT, "batch is too large for one launch");
  return cuda_status(launch_gemm_kernel(L->act.as<__half>(), L->w16.as<__half>(), L->z.as<float>(),
                                        batch_tiles, L->shape.row_tiles, L->shape.cols_pad,
                                        L->shape.rows_pad, stream),
                     "gemm_kernel launch");
}

int32_t clear_accumulators(qs_cuda_layer* L, cudaStream_t stream) {
  if (!L->z_dirty) return QS_OK;
  QS_CUDA_TRY(cudaMemsetAsync(L->z.p, 0, L->z.bytes, stream), "clearing the accumulators");
  L->z_dirty = false;
  return QS_OK;
}

// Runs the fused kernel (after clearing stale accumulators) or the GEMM path for `batch` vectors.
int32_t run_core(qs_cuda_layer* L, int64_t batch, cudaStream_t stream) {
  if (use_fused(L, batch)) {
    QS_TRY(clear_accumulators(L, stream));
    return launch_fused(L, batch, stream);
  }
  QS_TRY(launch_gemm(L, batch, stream));
  if (batch % 16 != 0) L->z_dirty = true;
  return QS_OK;
}

int32_t forward_steps(qs_cuda_layer* L, const float* x, int64_t batch, float* y, cudaStream_t stream) {
  QS_TRY(ensure_scratch(L, batch));
  RhtArgs in = rht_args(x, L->n, L->n, L->rht_cols, L->mb_in, L->g_in.as<int8_t>(), L->use_rht != 0);
  in.pre = L->s_in.as<float>();
  in.out_f16 = L->act.as<__half>();
  in.out_ld = L->shape.cols_pad;
  in.out_inv_scale = L->inv_scale.as<float>();
  QS_TRY(launch_rht(in, batch, stream));
  QS_TRY(run_core(L, batch, stream));
  RhtArgs out = rht_args(L->z.as<float>(), L->shape.rows_pad, L->rht_rows, L->rht_rows, L->mb_out,
                         L->g_out.as<int8_t>(), L->use_rht != 0);
  out.post = L->s_out.as<float>();
  out.in_scale = L->inv_scale.as<float>();
  out.out_f32 = y;
  out.out_ld = L->m;
  out.out_count = L->m;
  out.zero_in = L->z.as<float>();  // keeps the accumulators zero for the next call
  out.zero_count = L->shape.rows_pad;
  return launch_rht(out, batch, stream);
}

int32_t forward_device(qs_cuda_layer* L, const float* x, int64_t batch, float* y, cudaStream_t stream) {
  const int32_t s = forward_steps(L, x, batch, y, stream);
  if (s != QS_OK) L->z_dirty = true;  // it may have stopped between the fused kernel and the output RHT
  return s;
}

int32_t check_forward_args(const qs_cuda_layer* L, const void* x, int64_t batch, const void* y) {
  if (L == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "layer must not be null");
  if (batch <= 0) return fail(QS_ERR_INVALID_ARGUMENT, "batch = " + std::to_string(batch) + " must be positive");
  if (batch > (int64_t(1) << 31) / 16) return fail(QS_ERR_INVALID_ARGUMENT, "batch = " + std::to_string(batch) + " is too large");
  if (x == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "x must not be null");
  if (y == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "y must not be null");
  return QS_OK;
}

int32_t create_layer(qs_cuda_layer* L, int32_t index, const qs_qlinear_desc* desc) {
  // The CPU layer validates the description (ids, shapes, codes in range, finite signs) with its
  // messages; its status (an invalid argument, or out of host memory) is passed on.
  qs_qlayer* cpu = nullptr;
  const int32_t cpu_status = qs_qlayer_create(desc, &cpu);
  if (cpu_status != QS_OK) return fail(cpu_status, qs_last_error());
  qs_qlayer_free(cpu);
  const int32_t codebook_id = desc->codebook_id, use_rht = desc->use_rht;
  const double resid_scale = desc->resid_scale, wscale = desc->wscale;
  const uint32_t* codes = desc->codes;
  const float *s_in = desc->s_in, *s_out = desc->s_out;
  const int64_t m = desc->rows, n = desc->cols;
  QS_TRY(check_device(index));
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(index), "cudaSetDevice");
  int64_t sh[3];
  QS_TRY(from_cpu_status(qs_qlinear_shape(m, n, use_rht, sh)));
  int32_t bits = 0;
  double rho = 0, rho2 = 0;
  QS_TRY(from_cpu_status(qs_codebook_info(codebook_id, &bits, &rho, &rho2)));
  L->device = index;
  L->bits = bits;
  L->use_rht = use_rht;
  L->m = m;
  L->n = n;
  L->rht_rows = sh[0];
  L->rht_cols = sh[1];
  L->code_cols = sh[2];
  L->inv_rho2 = bits == 2 ? 0.0f : static_cast<float>(1.0 / (resid_scale > 0 ? resid_scale : rho2));
  L->mb_in = use_rht ? qs_hadamard_base_order(L->rht_cols) : 1;
  L->mb_out = use_rht ? qs_hadamard_base_order(L->rht_rows) : 1;
  QS_TRY(require_rht_fits(index, L->rht_cols, "input length"));
  QS_TRY(require_rht_fits(index, L->rht_rows, "output length"));
  QS_CUDA_TRY(cudaDeviceGetAttribute(&L->sm_count, cudaDevAttrMultiProcessorCount, index), "SM count");
  L->shape = fused_shape(L->rht_rows, L->code_cols);
  L->grid = fused_grid(L->shape, L->sm_count);
  const size_t fused_smem = fused_shared_bytes(bits, L->grid);
  int optin = 0;
  QS_TRY(max_shared_optin(index, &optin));
  if (fused_smem > static_cast<size_t>(optin))
    return fail(QS_ERR_INVALID_ARGUMENT, "the fused kernel needs " + std::to_string(fused_smem) +
                                             " bytes of shared memory; device " + std::to_string(index) +
                                             " has " + std::to_string(optin));

  // Codes per stage -> chunk layouts (§8.4 words, kernel_logic.cuh).
  const int64_t count = L->rht_rows * (L->code_cols / 8);
  std::vector<uint16_t> c1(static_cast<size_t>(count)), c2;
  std::vector<uint8_t> c3;
  if (bits == 4) c2.resize(static_cast<size_t>(count));
  if (bits == 3) c3.resize(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t c = codes[i];
    c1[i] = static_cast<uint16_t>(bits == 2 ? c : c >> 16);
    if (bits == 4) c2[i] = static_cast<uint16_t>(c & 0xFFFF);
    if (bits == 3) c3[i] = static_cast<uint8_t>(c & 0xFF);
  }
  try {
    const std::vector<uint64_t> w1 = e8p_chunk_words(c1.data(), L->shape);
    QS_TRY(upload(L->w1, w1.data(), w1.size() * 8, "stage-1 codes"));
    if (bits == 4) {
      const std::vector<uint64_t> w2 = e8p_chunk_words(c2.data(), L->shape);
      QS_TRY(upload(L->w2, w2.data(), w2.size() * 8, "stage-2 codes"));
    }
    if (bits == 3) {
      const std::vector<uint32_t> e3 = e81b_chunk_words(c3.data(), L->shape);
      QS_TRY(upload(L->e3, e3.data(), e3.size() * 4, "E81B codes"));
    }
  } catch (const std::exception& e) {
    return fail(QS_ERR_INTERNAL, e.what());
  }
  int32_t packed[256];
  QS_TRY(from_cpu_status(qs_e8p_packed_table(packed)));
  QS_TRY(upload(L->packed, packed, sizeof(packed), "the E8P12 table"));
  std::vector<float> e81b(256 * 8);
  QS_TRY(from_cpu_status(qs_e81b_table(e81b.data())));
  std::vector<uint16_t> e81b_half(256 * 8);
  QS_TRY(from_cpu_status(qs_f32_to_f16(e81b.data(), 256 * 8, e81b_half.data())));
  QS_TRY(upload(L->e81b_f32, e81b.data(), e81b.size() * 4, "the E81B table"));
  QS_TRY(upload(L->e81b_half, e81b_half.data(), e81b_half.size() * 2, "the E81B fp16 table"));
  std::vector<int8_t> g;
  QS_TRY(base_matrix(L->mb_in, true, g));
  QS_TRY(upload(L->g_in, g.data(), g.size(), "the input Hadamard base"));
  QS_TRY(base_matrix(L->mb_out, false, g));
  QS_TRY(upload(L->g_out, g.data(), g.size(), "the output Hadamard base"));
  QS_TRY(upload(L->s_in, s_in, static_cast<size_t>(L->rht_cols) * 4, "s_in"));
  std::vector<float> so(static_cast<size_t>(L->rht_rows));
  for (int64_t r = 0; r < L->rht_rows; ++r) so[r] = static_cast<float>(s_out[r] * wscale);
  QS_TRY(upload(L->s_out, so.data(), so.size() * 4, "s_out"));
  QS_TRY(ensure_scratch(L, 1));
  return QS_OK;
}

}  // namespace

extern "C" int32_t qs_cuda_layer_create(int32_t index, const qs_qlinear_desc* desc,
                                        qs_cuda_layer** out) {
  if (out == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "out must not be null");
  qs_cuda_layer* L = new (std::nothrow) qs_cuda_layer();
  if (L == nullptr) return fail(QS_ERR_OUT_OF_MEMORY, "out of host memory for a CUDA layer");
  int32_t s;
  try {
    s = create_layer(L, index, desc);
  } catch (const std::bad_alloc&) {
    s = fail(QS_ERR_OUT_OF_MEMORY, "out of host memory building the device layout");
  }
  if (s != QS_OK) {
    const std::string msg = last_error();
    { DeviceScope scope; cudaSetDevice(L->device); delete L; }
    last_error() = msg;
    return s;
  }
  *out = L;
  return ok();
}

extern "C" void qs_cuda_layer_free(qs_cuda_layer* layer) {
  if (layer == nullptr) return;
  DeviceScope scope;
  cudaSetDevice(layer->device);
  delete layer;
}

extern "C" int64_t qs_cuda_layer_weight_bytes(const qs_cuda_layer* layer) {
  if (layer == nullptr) return 0;
  return static_cast<int64_t>(layer->w1.bytes + layer->w2.bytes + layer->e3.bytes);
}

extern "C" int64_t qs_cuda_layer_device_bytes(const qs_cuda_layer* L) {
  if (L == nullptr) return 0;
  size_t total = 0;
  for (const DeviceBuffer* b : {&L->w1, &L->w2, &L->e3, &L->packed, &L->e81b_half, &L->e81b_f32,
                                &L->g_in, &L->g_out, &L->s_in, &L->s_out, &L->act, &L->z,
                                &L->inv_scale, &L->x_stage, &L->y_stage, &L->w16})
    total += b->bytes;
  return static_cast<int64_t>(total);
}

extern "C" int32_t qs_cuda_layer_set_path(qs_cuda_layer* layer, int32_t path) {
  if (layer == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "layer must not be null");
  if (path < QS_CUDA_PATH_AUTO || path > QS_CUDA_PATH_GEMM)
    return fail(QS_ERR_INVALID_ARGUMENT, "path = " + std::to_string(path) + " must be 0 (auto), 1 (fused) or 2 (GEMM)");
  std::lock_guard<std::mutex> lock(layer->mutex);
  layer->path = path;
  return ok();
}

extern "C" int32_t qs_cuda_layer_forward_device(qs_cuda_layer* layer, const float* x, int64_t batch,
                                                float* y, void* stream) {
  QS_TRY(check_forward_args(layer, x, batch, y));
  std::lock_guard<std::mutex> lock(layer->mutex);
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(layer->device), "cudaSetDevice");
  QS_TRY(forward_device(layer, x, batch, y, static_cast<cudaStream_t>(stream)));
  return ok();
}

extern "C" int32_t qs_cuda_layer_matmul(qs_cuda_layer* layer, const float* x, int64_t batch, float* y) {
  QS_TRY(check_forward_args(layer, x, batch, y));
  std::lock_guard<std::mutex> lock(layer->mutex);
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(layer->device), "cudaSetDevice");
  const size_t xb = static_cast<size_t>(batch * layer->n) * 4, yb = static_cast<size_t>(batch * layer->m) * 4;
  QS_TRY(layer->x_stage.ensure(xb, "the input batch"));
  QS_TRY(layer->y_stage.ensure(yb, "the output batch"));
  QS_CUDA_TRY(cudaMemcpy(layer->x_stage.p, x, xb, cudaMemcpyHostToDevice), "copy x to the device");
  const int32_t s = forward_device(layer, layer->x_stage.as<float>(), batch, layer->y_stage.as<float>(), nullptr);
  if (s != QS_OK) {
    const std::string msg = last_error();
    cudaDeviceSynchronize();  // z_dirty is set: the next forward clears the accumulators
    return fail(s, msg);
  }
  QS_CUDA_TRY(cudaMemcpy(y, layer->y_stage.p, yb, cudaMemcpyDeviceToHost), "running the layer");
  return ok();
}

extern "C" int32_t qs_cuda_layer_matvec(qs_cuda_layer* layer, const float* x, float* y) {
  return qs_cuda_layer_matmul(layer, x, 1, y);
}

extern "C" int32_t qs_cuda_layer_decode(qs_cuda_layer* layer, float* out) {
  if (layer == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "layer must not be null");
  if (out == nullptr) return fail(QS_ERR_INVALID_ARGUMENT, "out must not be null");
  std::lock_guard<std::mutex> lock(layer->mutex);
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(layer->device), "cudaSetDevice");
  const size_t bytes = static_cast<size_t>(layer->rht_rows * layer->code_cols) * 4;
  DeviceBuffer d_out;
  QS_TRY(d_out.ensure(bytes, "the decoded matrix"));
  DecodeArgs d = decode_args(layer);
  d.out_f32 = d_out.as<float>();
  QS_TRY(launch_decode(d, nullptr));
  QS_CUDA_TRY(cudaMemcpy(out, d_out.p, bytes, cudaMemcpyDeviceToHost), "decoding the matrix");
  return ok();
}

extern "C" int32_t qs_cuda_layer_core_device(qs_cuda_layer* layer, int64_t batch, void* stream) {
  QS_TRY(check_forward_args(layer, layer, batch, layer));
  std::lock_guard<std::mutex> lock(layer->mutex);
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(layer->device), "cudaSetDevice");
  QS_TRY(ensure_scratch(layer, batch));
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  // No clearing here (it would be timed): the results are not meaningful, the next forward clears.
  layer->z_dirty = true;
  QS_TRY(use_fused(layer, batch) ? launch_fused(layer, batch, st) : launch_gemm(layer, batch, st));
  return ok();
}

namespace {

int32_t check_rht_call(int32_t index, const float* x, int64_t batch, int64_t n, const float* signs,
                       int32_t inverse) {
  if (batch < 0) return fail(QS_ERR_INVALID_ARGUMENT, "batch = " + std::to_string(batch) + " must be >= 0");
  if (inverse != 0 && inverse != 1)
    return fail(QS_ERR_INVALID_ARGUMENT, "inverse = " + std::to_string(inverse) + " must be 0 or 1");
  if (qs_hadamard_base_order(n) == 0)
    return fail(QS_ERR_INVALID_ARGUMENT, "n = " + std::to_string(n) + " is not a supported Hadamard order (§2.2)");
  if (batch > 0 && (x == nullptr || signs == nullptr))
    return fail(QS_ERR_INVALID_ARGUMENT, "x and signs must not be null");
  return check_device(index);
}

}  // namespace

extern "C" int32_t qs_cuda_rht_device(int32_t index, float* x, int64_t batch, int64_t n,
                                      const float* signs, int32_t inverse, void* stream) {
  QS_TRY(check_rht_call(index, x, batch, n, signs, inverse));
  const int32_t mb = qs_hadamard_base_order(n);
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(index), "cudaSetDevice");
  QS_TRY(require_rht_fits(index, n, "n"));
  if (batch == 0) return ok();
  // The base matrices are small (<= 29.6 KB); cached per (device, order, direction) for the process.
  static std::mutex cache_mutex;
  static std::vector<std::pair<std::vector<int64_t>, DeviceBuffer*>> cache;
  const int8_t* G = nullptr;
  {
    std::lock_guard<std::mutex> lock(cache_mutex);
    const std::vector<int64_t> key = {index, mb, inverse};
    for (auto& e : cache)
      if (e.first == key) G = e.second->as<int8_t>();
    if (G == nullptr) {
      std::vector<int8_t> g;
      QS_TRY(base_matrix(mb, inverse == 0, g));
      DeviceBuffer* buf = new DeviceBuffer();
      const int32_t s = upload(*buf, g.data(), g.size(), "a Hadamard base");
      if (s != QS_OK) {
        delete buf;
        return s;
      }
      cache.emplace_back(key, buf);
      G = buf->as<int8_t>();
    }
  }
  RhtArgs a = rht_args(x, n, n, n, mb, G, true);
  a.pre = inverse ? nullptr : signs;
  a.post = inverse ? signs : nullptr;
  a.out_f32 = x;
  a.out_ld = n;
  a.out_count = n;
  QS_TRY(launch_rht(a, batch, static_cast<cudaStream_t>(stream)));
  return ok();
}

extern "C" int32_t qs_cuda_rht(int32_t index, float* x, int64_t batch, int64_t n, const float* signs,
                               int32_t inverse) {
  QS_TRY(check_rht_call(index, x, batch, n, signs, inverse));
  DeviceScope scope;
  QS_CUDA_TRY(cudaSetDevice(index), "cudaSetDevice");
  if (batch == 0) return ok();
  DeviceBuffer d_x, d_s;
  QS_TRY(upload(d_x, x, static_cast<size_t>(batch * n) * 4, "the vectors"));
  QS_TRY(upload(d_s, signs, static_cast<size_t>(n) * 4, "the signs"));
  QS_TRY(qs_cuda_rht_device(index, d_x.as<float>(), batch, n, d_s.as<float>(), inverse, nullptr));
  QS_CUDA_TRY(cudaMemcpy(x, d_x.p, static_cast<size_t>(batch * n) * 4, cudaMemcpyDeviceToHost), "running the RHT");
  return ok();
}
