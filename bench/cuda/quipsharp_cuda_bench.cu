// quipsharp-cuda-bench: bandwidth benchmark of the CUDA engine, JSON on stdout (progress on stderr).
//
//   quipsharp-cuda-bench [--device N] [--quick] [--reps R]
//
// Measures, on one device: device-to-device copy bandwidth (cudaMemcpyAsync, bytes read + bytes
// written per second) and read bandwidth (a streaming 16-byte-load reduction kernel); then for the
// Llama-2-7B and -70B linear-layer shapes, each as a sweep over enough distinct layers that the L2
// cache cannot hold them, per shape and per bit width: the fused decode + mat-vec kernel alone
// ("kernel"), the whole layer (input RHT + fused kernel + output RHT, "layer"), and the fp16 cuBLAS
// GEMV baseline (cublasGemmEx with n = 1, fp16 in/out, fp32 compute; libcublas is opened at run
// time, so the driver builds and runs without it and reports it missing). Times come from CUDA
// events around whole sweeps (every distinct layer once, back to back), after a warm-up sweep; the
// median of `reps` sweeps, divided by the number of layers. bytes = the bytes a call must read
// (codes, or fp16 weights) + activations in + outputs out; fraction = (bytes / time) / copy bandwidth.
// Also the RHT at n = 4096 / 8192, batch 1 (back-to-back and single-call latency) and the batch > 1
// paths. The kernel and layer sweeps are also timed as CUDA graphs ("*_graph_*": the sweep captured
// once and replayed), which removes the host's per-launch cost from the smaller layers; the plain
// keys keep direct launches. Nothing here is asserted: it is a measurement.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "quipsharp/quipsharp_cuda.h"

namespace {

#define CU(call)                                                                              \
  do {                                                                                        \
    const cudaError_t e_ = (call);                                                            \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(2);                                                                           \
    }                                                                                         \
  } while (0)

#define QS(call)                                                                                \
  do {                                                                                          \
    const int s_ = (call);                                                                      \
    if (s_ != QS_OK) {                                                                          \
      std::fprintf(stderr, "%s:%d: %s returned %d: %s\n", __FILE__, __LINE__, #call, s_, qs_cuda_last_error()); \
      std::exit(2);                                                                             \
    }                                                                                           \
  } while (0)

// ---- cuBLAS, opened at run time ------------------------------------------------------------------
struct Cublas {
  typedef int (*CreateFn)(void**);
  typedef int (*DestroyFn)(void*);
  typedef int (*SetStreamFn)(void*, cudaStream_t);
  typedef int (*GemmExFn)(void*, int, int, int, int, int, const void*, const void*, int, int,
                          const void*, int, int, const void*, void*, int, int, int, int);
  void* lib = nullptr;
  void* handle = nullptr;
  GemmExFn gemm = nullptr;
  DestroyFn destroy = nullptr;
  std::string error;
  std::string path;

  bool open() {
    const char* names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so",
                           "/usr/local/cuda/lib64/libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.12",
                           "/usr/local/cuda/lib64/libcublas.so"};
    for (const char* n : names) {
      lib = dlopen(n, RTLD_NOW | RTLD_LOCAL);
      if (lib) {
        path = n;
        break;
      }
    }
    if (!lib) {
      error = std::string("libcublas not found: ") + dlerror();
      return false;
    }
    auto create = reinterpret_cast<CreateFn>(dlsym(lib, "cublasCreate_v2"));
    destroy = reinterpret_cast<DestroyFn>(dlsym(lib, "cublasDestroy_v2"));
    gemm = reinterpret_cast<GemmExFn>(dlsym(lib, "cublasGemmEx"));
    if (!create || !destroy || !gemm) {
      error = "libcublas lacks cublasCreate_v2 / cublasGemmEx";
      return false;
    }
    if (create(&handle) != 0) {
      error = "cublasCreate_v2 failed";
      return false;
    }
    return true;
  }
  // y (m, fp16) = W (m x n row-major fp16) x: column-major W^T, op T (as torch's F.linear does).
  int gemv(const __half* w, const __half* x, __half* y, int m, int n) {
    const float one = 1.0f, zero = 0.0f;
    const int OP_T = 1, OP_N = 0, R16F = 2, COMPUTE_32F = 68, ALGO_DEFAULT = -1;
    return gemm(handle, OP_T, OP_N, m, 1, n, &one, w, R16F, n, x, R16F, n, &zero, y, R16F, m,
                COMPUTE_32F, ALGO_DEFAULT);
  }
};

// ---- bandwidth kernels -----------------------------------------------------------------------------
__global__ void read_kernel(const uint4* p, int64_t count, unsigned long long* out) {
  uint32_t acc = 0;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const uint4 v = __ldcs(p + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x12345678u) atomicAdd(out, 1ull);  // keeps the loads alive
}

// Own fp16 GEMV (one warp per row, 16-byte loads, fp32 accumulate): a second baseline.
__global__ void f16_gemv_kernel(const __half* w, const __half* x, float* y, int m, int n) {
  const int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
  if (row >= m) return;
  const uint4* wr = reinterpret_cast<const uint4*>(w + static_cast<int64_t>(row) * n);
  const uint4* xr = reinterpret_cast<const uint4*>(x);
  float acc = 0.0f;
  for (int i = lane; i < n / 8; i += 32) {
    const uint4 a = __ldcs(wr + i), b = xr[i];
    const __half2* ha = reinterpret_cast<const __half2*>(&a);
    const __half2* hb = reinterpret_cast<const __half2*>(&b);
    for (int k = 0; k < 4; ++k) {
      const float2 fa = __half22float2(ha[k]), fb = __half22float2(hb[k]);
      acc += fa.x * fb.x + fa.y * fb.y;
    }
  }
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xFFFFFFFFu, acc, o);
  if (lane == 0) y[row] = acc;
}

struct Timer {
  cudaEvent_t a, b;
  Timer() {
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
  }
  // Median seconds of `reps` runs of f (after one warm-up run).
  double median(int reps, const std::function<void()>& f) {
    f();
    CU(cudaDeviceSynchronize());
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
      CU(cudaEventRecord(a));
      f();
      CU(cudaEventRecord(b));
      CU(cudaEventSynchronize(b));
      float ms = 0;
      CU(cudaEventElapsedTime(&ms, a, b));
      t.push_back(ms * 1e-3);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

// The same measurement with the sweep captured once into a CUDA graph and replayed: the GPU time
// without the host's per-launch cost (a few microseconds, comparable to a 4096 x 4096 2-bit layer).
// f(stream) must return false on failure; any failure (capture unsupported, ...) gives NaN and a
// message on stderr instead of ending the run. The warm-up runs f directly first (allocations
// happen outside the capture).
double graph_median(int reps, const std::function<bool(cudaStream_t)>& f) {
  cudaStream_t st = nullptr;
  if (cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking) != cudaSuccess) return NAN;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  cudaEvent_t a = nullptr, b = nullptr;
  double result = NAN;
  bool good = f(st) && cudaStreamSynchronize(st) == cudaSuccess;
  if (good) good = cudaStreamBeginCapture(st, cudaStreamCaptureModeRelaxed) == cudaSuccess;
  if (good) {
    const bool ran = f(st);
    good = cudaStreamEndCapture(st, &graph) == cudaSuccess && ran;
  }
  if (good) good = cudaGraphInstantiate(&exec, graph, 0) == cudaSuccess;
  if (good) good = cudaEventCreate(&a) == cudaSuccess && cudaEventCreate(&b) == cudaSuccess;
  if (good) good = cudaGraphLaunch(exec, st) == cudaSuccess && cudaStreamSynchronize(st) == cudaSuccess;
  std::vector<double> t;
  for (int r = 0; good && r < reps; ++r) {
    float ms = 0;
    good = cudaEventRecord(a, st) == cudaSuccess && cudaGraphLaunch(exec, st) == cudaSuccess &&
           cudaEventRecord(b, st) == cudaSuccess && cudaEventSynchronize(b) == cudaSuccess &&
           cudaEventElapsedTime(&ms, a, b) == cudaSuccess;
    t.push_back(ms * 1e-3);
  }
  if (good && !t.empty()) {
    std::sort(t.begin(), t.end());
    result = t[t.size() / 2];
  } else {
    std::fprintf(stderr, "graph timing failed: %s\n", cudaGetErrorString(cudaGetLastError()));
  }
  cudaGetLastError();
  if (a) cudaEventDestroy(a);
  if (b) cudaEventDestroy(b);
  if (exec) cudaGraphExecDestroy(exec);
  if (graph) cudaGraphDestroy(graph);
  cudaStreamSynchronize(st);
  cudaStreamDestroy(st);
  return result;
}

struct Shape {
  const char* role;
  int64_t m, n;
  int count;  // per decoder layer
};

std::string jnum(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

qs_cuda_layer* random_layer(int device, int bits, int64_t m, int64_t n, uint64_t seed) {
  const int32_t id = bits == 2 ? QS_CODEBOOK_E8P12 : bits == 4 ? QS_CODEBOOK_E8P12RVQ4B : QS_CODEBOOK_E8P12RVQ3B;
  int64_t sh[3];
  if (qs_qlinear_shape(m, n, 1, sh) != QS_OK) {
    std::fprintf(stderr, "shape %lld x %lld: %s\n", (long long)m, (long long)n, qs_last_error());
    std::exit(2);
  }
  std::vector<uint32_t> codes(sh[0] * sh[2] / 8);
  uint64_t s = seed;
  for (auto& c : codes) {
    const uint64_t r = splitmix(s);
    const uint32_t a = static_cast<uint32_t>(r & 0xFFFF), b = static_cast<uint32_t>(r >> 32);
    c = bits == 2 ? a : bits == 4 ? (a << 16 | (b & 0xFFFF)) : (a << 16 | (b & 0xFF));
  }
  std::vector<float> s_in(sh[1]), s_out(sh[0]);
  for (auto& v : s_in) v = (splitmix(s) >> 63) ? -1.0f : 1.0f;
  for (auto& v : s_out) v = (splitmix(s) >> 63) ? -1.0f : 1.0f;
  const qs_qlinear_desc desc{id, 0.0, codes.data(), m, n, s_in.data(), s_out.data(), 1.0, 1};
  qs_cuda_layer* L = nullptr;
  if (qs_cuda_layer_create(device, &desc, &L) != QS_OK) {
    std::fprintf(stderr, "layer %d-bit %lld x %lld: %s\n", bits, (long long)m, (long long)n, qs_cuda_last_error());
    std::exit(2);
  }
  return L;
}

struct SweepResult {
  std::string json;            // per-shape entries
  double kernel_bytes = 0, kernel_s = 0, layer_s = 0;  // totals over the whole model sweep
  double fp16_bytes = 0, fp16_s = 0, own16_s = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int device = 0, reps = 15;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--device") && i + 1 < argc) device = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--quick")) quick = true;
    else {
      std::fprintf(stderr, "usage: %s [--device N] [--quick] [--reps R]\n", argv[0]);
      return 2;
    }
  }
  int32_t ndev = 0;
  QS(qs_cuda_device_count(&ndev));
  if (ndev == 0) {
    std::printf("{\"error\": \"no CUDA device\", \"detail\": \"%s\"}\n", qs_cuda_last_error());
    return 77;
  }
  qs_cuda_device info;
  QS(qs_cuda_device_info(device, &info));
  CU(cudaSetDevice(device));
  int l2 = 0;
  CU(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, device));
  Timer timer;
  std::fprintf(stderr, "device %s, L2 %d MB\n", info.name, l2 >> 20);

  // ---- copy and read bandwidth ----
  const size_t buf_bytes = quick ? (size_t(256) << 20) : (size_t(1) << 30);
  void *src = nullptr, *dst = nullptr;
  CU(cudaMalloc(&src, buf_bytes));
  CU(cudaMalloc(&dst, buf_bytes));
  CU(cudaMemset(src, 1, buf_bytes));
  unsigned long long* sink = nullptr;
  CU(cudaMalloc(&sink, 8));
  const double copy_s = timer.median(reps, [&] { CU(cudaMemcpyAsync(dst, src, buf_bytes, cudaMemcpyDeviceToDevice)); });
  const double copy_bw = 2.0 * buf_bytes / copy_s / 1e9;
  const double read_s = timer.median(reps, [&] {
    read_kernel<<<info.sm_count * 8, 512>>>(static_cast<const uint4*>(src), buf_bytes / 16, sink);
  });
  const double read_bw = buf_bytes / read_s / 1e9;
  CU(cudaFree(dst));
  CU(cudaFree(src));
  std::fprintf(stderr, "copy %.0f GB/s, read %.0f GB/s\n", copy_bw, read_bw);

  Cublas cublas;
  const bool have_cublas = cublas.open();
  if (!have_cublas) std::fprintf(stderr, "cuBLAS baseline unavailable: %s\n", cublas.error.c_str());

  // ---- RHT latency ----
  std::string rht_json;
  for (int64_t n : {4096, 8192}) {
    float* x = nullptr;
    float* s = nullptr;
    CU(cudaMalloc(&x, n * 4));
    CU(cudaMalloc(&s, n * 4));
    std::vector<float> ones(n, 1.0f);
    CU(cudaMemcpy(s, ones.data(), n * 4, cudaMemcpyHostToDevice));
    CU(cudaMemcpy(x, ones.data(), n * 4, cudaMemcpyHostToDevice));
    const int calls = 200;
    const double back = timer.median(reps, [&] {
      for (int c = 0; c < calls; ++c) QS(qs_cuda_rht_device(device, x, 1, n, s, c & 1, nullptr));
    }) / calls;
    const double single = timer.median(50, [&] { QS(qs_cuda_rht_device(device, x, 1, n, s, 0, nullptr)); });
    if (!rht_json.empty()) rht_json += ", ";
    rht_json += "{\"n\": " + std::to_string(n) + ", \"batch\": 1, \"us_per_call_back_to_back\": " +
                jnum(back * 1e6) + ", \"us_single_call\": " + jnum(single * 1e6) + "}";
    std::fprintf(stderr, "RHT n=%lld: %.2f us back to back, %.2f us single\n", (long long)n, back * 1e6, single * 1e6);
    CU(cudaFree(x));
    CU(cudaFree(s));
  }

  // ---- model sweeps ----
  const Shape shapes7b[] = {{"q/k/v/o", 4096, 4096, 4}, {"gate/up", 11008, 4096, 2}, {"down", 4096, 11008, 1}};
  const Shape shapes70b[] = {{"q/o", 8192, 8192, 2}, {"gate/up", 28672, 8192, 2}, {"down", 8192, 28672, 1}};
  struct Model {
    const char* name;
    const Shape* shapes;
    int decoder_layers;
  };
  // Enough decoder layers that every bit width's sweep is several times the L2 cache.
  const Model models[] = {{"llama2-7b", shapes7b, quick ? 2 : 8}, {"llama2-70b", shapes70b, quick ? 1 : 2}};
  std::string models_json;
  // [bits 2,3,4][kernel fraction, layer fraction, layer speedup, graph kernel fraction, graph layer
  // fraction] for 7B
  double summary[3][5] = {};
  double sum7_fp16_s = 0, sum7_kernel2_s = 0;
  for (const Model& model : models) {
    std::string shapes_json;
    double model_fp16_s = 0, model_own_s = 0;
    double model_kernel_s[3] = {}, model_layer_s[3] = {}, model_bytes[3] = {};
    double model_kernel_graph_s[3] = {}, model_layer_graph_s[3] = {};
    for (int si = 0; si < 3; ++si) {
      const Shape& sh = model.shapes[si];
      const int layers = sh.count * model.decoder_layers;
      std::string entry = std::string("{\"role\": \"") + sh.role + "\", \"rows\": " + std::to_string(sh.m) +
                          ", \"cols\": " + std::to_string(sh.n) + ", \"distinct_layers\": " + std::to_string(layers);
      // fp16 baselines: distinct weight copies.
      {
        const size_t wb = static_cast<size_t>(sh.m * sh.n) * 2;
        std::vector<__half*> ws(layers);
        for (auto& w : ws) {
          CU(cudaMalloc(&w, wb));
          CU(cudaMemset(w, 0, wb));
        }
        __half *x16 = nullptr, *y16 = nullptr;
        float* y32 = nullptr;
        CU(cudaMalloc(&x16, sh.n * 2));
        CU(cudaMalloc(&y16, sh.m * 2));
        CU(cudaMalloc(&y32, sh.m * 4));
        CU(cudaMemset(x16, 0, sh.n * 2));
        const double bytes = wb + sh.n * 2.0 + sh.m * 2.0;
        double t_cublas = NAN;
        if (have_cublas)
          t_cublas = timer.median(reps, [&] {
            for (auto* w : ws)
              if (cublas.gemv(w, x16, y16, static_cast<int>(sh.m), static_cast<int>(sh.n)) != 0) {
                std::fprintf(stderr, "cublasGemmEx failed\n");
                std::exit(2);
              }
          }) / layers;
        const double t_own = timer.median(reps, [&] {
          for (auto* w : ws)
            f16_gemv_kernel<<<static_cast<unsigned>((sh.m * 32 + 255) / 256), 256>>>(w, x16, y32, static_cast<int>(sh.m), static_cast<int>(sh.n));
        }) / layers;
        CU(cudaGetLastError());
        for (auto* w : ws) CU(cudaFree(w));
        CU(cudaFree(x16));
        CU(cudaFree(y16));
        CU(cudaFree(y32));
        entry += ", \"fp16_cublas_gemv\": {\"us\": " + jnum(t_cublas * 1e6) + ", \"bytes\": " + jnum(bytes) +
                 ", \"fraction_of_copy_bw\": " + jnum(bytes / t_cublas / 1e9 / copy_bw) + "}";
        entry += ", \"fp16_own_gemv\": {\"us\": " + jnum(t_own * 1e6) + ", \"bytes\": " + jnum(bytes) +
                 ", \"fraction_of_copy_bw\": " + jnum(bytes / t_own / 1e9 / copy_bw) + "}";
        model_fp16_s += t_cublas * sh.count;
        model_own_s += t_own * sh.count;
        std::fprintf(stderr, "%s %s fp16: cublas %.1f us, own %.1f us\n", model.name, sh.role, t_cublas * 1e6, t_own * 1e6);
      }
      for (int bi = 0; bi < 3; ++bi) {
        const int bits = 2 + bi;
        std::vector<qs_cuda_layer*> ls(layers);
        for (int i = 0; i < layers; ++i) ls[i] = random_layer(device, bits, sh.m, sh.n, 1000 * si + 17 * i + bits);
        float *x = nullptr, *y = nullptr;
        CU(cudaMalloc(&x, sh.n * 4 * 64));
        CU(cudaMalloc(&y, sh.m * 4 * 64));
        CU(cudaMemset(x, 0, sh.n * 4 * 64));
        for (auto* L : ls) QS(qs_cuda_layer_forward_device(L, x, 1, y, nullptr));  // scratch ready
        const double code_bytes = static_cast<double>(qs_cuda_layer_weight_bytes(ls[0]));
        const double kbytes = code_bytes + sh.n * 2.0 + sh.m * 4.0;
        const double lbytes = code_bytes + sh.n * 4.0 + sh.m * 4.0;
        const double tk = timer.median(reps, [&] { for (auto* L : ls) QS(qs_cuda_layer_core_device(L, 1, nullptr)); }) / layers;
        const double tl = timer.median(reps, [&] { for (auto* L : ls) QS(qs_cuda_layer_forward_device(L, x, 1, y, nullptr)); }) / layers;
        const double tkg = graph_median(reps, [&](cudaStream_t st) {
          for (auto* L : ls)
            if (qs_cuda_layer_core_device(L, 1, st) != QS_OK) return false;
          return true;
        }) / layers;
        const double tlg = graph_median(reps, [&](cudaStream_t st) {
          for (auto* L : ls)
            if (qs_cuda_layer_forward_device(L, x, 1, y, st) != QS_OK) return false;
          return true;
        }) / layers;
        // Batch > 1 on the first layer of the sweep (fused in passes of 8 up to 16, GEMM above).
        const double t8 = timer.median(reps, [&] { QS(qs_cuda_layer_forward_device(ls[0], x, 8, y, nullptr)); });
        const double t64 = timer.median(reps, [&] { QS(qs_cuda_layer_forward_device(ls[0], x, 64, y, nullptr)); });
        char buf[1024];
        std::snprintf(buf, sizeof buf,
                      ", \"fused%d\": {\"kernel_us\": %s, \"kernel_bytes\": %s, \"kernel_fraction_of_copy_bw\": %s, "
                      "\"layer_us\": %s, \"layer_bytes\": %s, \"layer_fraction_of_copy_bw\": %s, "
                      "\"batch8_us\": %s, \"batch64_us\": %s, \"kernel_graph_us\": %s, "
                      "\"kernel_graph_fraction_of_copy_bw\": %s, \"layer_graph_us\": %s, "
                      "\"layer_graph_fraction_of_copy_bw\": %s}",
                      bits, jnum(tk * 1e6).c_str(), jnum(kbytes).c_str(), jnum(kbytes / tk / 1e9 / copy_bw).c_str(),
                      jnum(tl * 1e6).c_str(), jnum(lbytes).c_str(), jnum(lbytes / tl / 1e9 / copy_bw).c_str(),
                      jnum(t8 * 1e6).c_str(), jnum(t64 * 1e6).c_str(), jnum(tkg * 1e6).c_str(),
                      jnum(kbytes / tkg / 1e9 / copy_bw).c_str(), jnum(tlg * 1e6).c_str(),
                      jnum(lbytes / tlg / 1e9 / copy_bw).c_str());
        entry += buf;
        model_kernel_s[bi] += tk * sh.count;
        model_layer_s[bi] += tl * sh.count;
        model_kernel_graph_s[bi] += tkg * sh.count;
        model_layer_graph_s[bi] += tlg * sh.count;
        model_bytes[bi] += kbytes * sh.count;
        std::fprintf(stderr, "%s %s %d-bit: kernel %.1f us (%.0f%% of copy), layer %.1f us\n", model.name, sh.role,
                     bits, tk * 1e6, 100 * kbytes / tk / 1e9 / copy_bw, tl * 1e6);
        for (auto* L : ls) qs_cuda_layer_free(L);
        CU(cudaFree(x));
        CU(cudaFree(y));
      }
      entry += "}";
      if (!shapes_json.empty()) shapes_json += ",\n      ";
      shapes_json += entry;
    }
    // Per decoder layer of this model (one of each linear layer, in proportion).
    std::string totals = "{\"fp16_cublas_gemv_us\": " + jnum(model_fp16_s * 1e6) + ", \"fp16_own_gemv_us\": " + jnum(model_own_s * 1e6);
    for (int bi = 0; bi < 3; ++bi) {
      const double kf = model_bytes[bi] / model_kernel_s[bi] / 1e9 / copy_bw;
      const double lf = model_bytes[bi] / model_layer_s[bi] / 1e9 / copy_bw;
      const double sp = model_fp16_s / model_layer_s[bi];
      const double kgf = model_bytes[bi] / model_kernel_graph_s[bi] / 1e9 / copy_bw;
      const double lgf = model_bytes[bi] / model_layer_graph_s[bi] / 1e9 / copy_bw;
      totals += ", \"fused" + std::to_string(2 + bi) + "_kernel_us\": " + jnum(model_kernel_s[bi] * 1e6) +
                ", \"fused" + std::to_string(2 + bi) + "_layer_us\": " + jnum(model_layer_s[bi] * 1e6) +
                ", \"fused" + std::to_string(2 + bi) + "_kernel_fraction_of_copy_bw\": " + jnum(kf) +
                ", \"fused" + std::to_string(2 + bi) + "_layer_fraction_of_copy_bw\": " + jnum(lf) +
                ", \"fused" + std::to_string(2 + bi) + "_layer_speedup_vs_fp16_gemv\": " + jnum(sp) +
                ", \"fused" + std::to_string(2 + bi) + "_kernel_graph_fraction_of_copy_bw\": " + jnum(kgf) +
                ", \"fused" + std::to_string(2 + bi) + "_layer_graph_fraction_of_copy_bw\": " + jnum(lgf);
      if (model.shapes == shapes7b) {
        summary[bi][0] = kf;
        summary[bi][1] = lf;
        summary[bi][2] = sp;
        summary[bi][3] = kgf;
        summary[bi][4] = lgf;
      }
    }
    if (model.shapes == shapes7b) {
      sum7_fp16_s = model_fp16_s;
      sum7_kernel2_s = model_kernel_s[0];
    }
    totals += "}";
    if (!models_json.empty()) models_json += ",\n    ";
    models_json += std::string("{\"model\": \"") + model.name + "\", \"decoder_layers_in_sweep\": " +
                   std::to_string(model.decoder_layers) + ", \"per_decoder_layer\": " + totals +
                   ",\n     \"shapes\": [\n      " + shapes_json + "]}";
  }
  if (have_cublas) cublas.destroy(cublas.handle);

  std::printf("{\n  \"tool\": \"quipsharp-cuda-bench\",\n");
  std::printf("  \"definitions\": {\"copy_gbytes_per_s\": \"cudaMemcpyAsync device to device: (bytes read + bytes written) / time\", "
              "\"read_gbytes_per_s\": \"16-byte streaming loads, bytes read / time\", "
              "\"kernel\": \"fused decode + mat-vec kernel alone, batch 1\", "
              "\"layer\": \"input RHT + fused kernel + output RHT, batch 1 (what replaces a fp16 GEMV)\", "
              "\"fraction_of_copy_bw\": \"(bytes / time) / copy_gbytes_per_s\", "
              "\"fused2_fraction_of_copy_bw\": \"7B sweep, kernel alone\", "
              "\"fused2_speedup_vs_fp16_gemv\": \"7B sweep, fp16 cuBLAS GEMV time / whole 2-bit layer time\", "
              "\"timing\": \"CUDA events around whole sweeps of distinct layers, warm-up, median of reps\", "
              "\"graph\": \"the same sweep captured once into a CUDA graph and replayed (no host launch cost per call)\"},\n");
  std::printf("  \"device\": {\"name\": \"%s\", \"sm_count\": %d, \"compute_capability\": \"%d.%d\", \"total_bytes\": %lld, "
              "\"l2_bytes\": %d, \"theoretical_peak_gbytes_per_s\": %s},\n",
              info.name, info.sm_count, info.cc_major, info.cc_minor, (long long)info.total_bytes, l2,
              jnum(info.peak_gbytes_per_s).c_str());
  std::printf("  \"copy_gbytes_per_s\": %s,\n  \"read_gbytes_per_s\": %s,\n  \"buffer_bytes\": %zu,\n  \"reps\": %d,\n  \"quick\": %s,\n",
              jnum(copy_bw).c_str(), jnum(read_bw).c_str(), buf_bytes, reps, quick ? "true" : "false");
  std::printf("  \"cublas\": %s,\n", have_cublas ? ("\"" + cublas.path + "\"").c_str() : ("{\"unavailable\": \"" + cublas.error + "\"}").c_str());
  std::printf("  \"rht\": [%s],\n", rht_json.c_str());
  std::printf("  \"models\": [\n    %s],\n", models_json.c_str());
  std::printf("  \"summary\": {\"device\": \"%s\", \"copy_gbytes_per_s\": %s, \"read_gbytes_per_s\": %s, "
              "\"fused2_fraction_of_copy_bw\": %s, \"fused3_fraction_of_copy_bw\": %s, \"fused4_fraction_of_copy_bw\": %s, "
              "\"layer2_fraction_of_copy_bw\": %s, \"layer3_fraction_of_copy_bw\": %s, \"layer4_fraction_of_copy_bw\": %s, "
              "\"fused2_speedup_vs_fp16_gemv\": %s, \"fused2_kernel_speedup_vs_fp16_gemv\": %s, "
              "\"fused2_graph_fraction_of_copy_bw\": %s, \"fused3_graph_fraction_of_copy_bw\": %s, "
              "\"fused4_graph_fraction_of_copy_bw\": %s, \"layer2_graph_fraction_of_copy_bw\": %s}\n}\n",
              info.name, jnum(copy_bw).c_str(), jnum(read_bw).c_str(), jnum(summary[0][0]).c_str(),
              jnum(summary[1][0]).c_str(), jnum(summary[2][0]).c_str(), jnum(summary[0][1]).c_str(),
              jnum(summary[1][1]).c_str(), jnum(summary[2][1]).c_str(), jnum(summary[0][2]).c_str(),
              jnum(sum7_fp16_s / sum7_kernel2_s).c_str(), jnum(summary[0][3]).c_str(), jnum(summary[1][3]).c_str(),
              jnum(summary[2][3]).c_str(), jnum(summary[0][4]).c_str());
  return 0;
}
