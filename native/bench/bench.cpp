// Benchmark drivers behind `quipsharp bench` (speed is measured here, never asserted in tests).
//
// matvec: a whole quantized layer as inference runs it (§7.1): input RHT, integer codebook mat-vec
// per stage, output RHT and scales; or the fp16 / fp32 baseline mat-vec. It cycles over `layers`
// distinct matrices so that the working set exceeds the last-level cache. memory: streaming read
// (a vectorized sum) and memcpy over buffers far larger than the caches.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QS_X86 1
#endif

#include "common/parallel.hpp"
#include "common/status.hpp"
#include "quipsharp/quipsharp_bench.h"

namespace qs {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One layer's data: a prepared quantized layer (2, 3, 4 bits) or dense fp16 / fp32 weights.
struct Layer {
  std::unique_ptr<qs_qlayer, void (*)(qs_qlayer*)> quantized{nullptr, qs_qlayer_free};
  std::vector<uint16_t> f16;
  std::vector<float> f32;
};

int64_t weight_bytes(int32_t bits, int64_t m, int64_t n) {
  switch (bits) {
    case 2: return m * n / 8 * 2;
    case 3: return m * n / 8 * 3;
    case 4: return m * n / 8 * 4;
    case 16: return m * n * 2;
    default: return m * n * 4;
  }
}

Layer make_layer(int32_t bits, int64_t m, int64_t n, uint64_t& rng) {
  Layer l;
  if (bits <= 4) {
    std::vector<uint32_t> codes(static_cast<size_t>(m * n / 8));
    for (auto& c : codes) {
      const uint64_t v = splitmix(rng);
      c = bits == 2 ? static_cast<uint32_t>(v & 0xFFFF)
                    : bits == 4 ? static_cast<uint32_t>(v) : static_cast<uint32_t>(v & 0xFFFF00FF);
    }
    std::vector<float> s_in(n), s_out(m);
    for (auto& s : s_in) s = (splitmix(rng) >> 63) ? -1.0f : 1.0f;
    for (auto& s : s_out) s = (splitmix(rng) >> 63) ? -1.0f : 1.0f;
    const int32_t id = bits == 2 ? QS_CODEBOOK_E8P12 : bits == 4 ? QS_CODEBOOK_E8P12RVQ4B
                                                                  : QS_CODEBOOK_E8P12RVQ3B;
    const qs_qlinear_desc desc{id, 0.0, codes.data(), m, n, s_in.data(), s_out.data(), 0.02, 1};
    qs_qlayer* layer = nullptr;
    check(qs_qlayer_create(&desc, &layer));
    l.quantized.reset(layer);
  } else {
    std::vector<float> w(m * n);
    for (auto& v : w) v = 0.02f * (static_cast<float>(splitmix(rng) >> 40) / 16777216.0f - 0.5f);
    if (bits == 16) {
      l.f16.resize(m * n);
      check(qs_f32_to_f16(w.data(), m * n, l.f16.data()));
    } else {
      l.f32 = std::move(w);
    }
  }
  return l;
}

// y = layer(x) as the inference path computes it.
void run_layer(const Layer& l, int32_t bits, int64_t m, int64_t n, int32_t kernel, const float* x,
               float* y) {
  if (bits == 32) check(qs_f32_matvec(l.f32.data(), m, n, x, y, kernel));
  else if (bits == 16) check(qs_f16_matvec(l.f16.data(), m, n, x, y, kernel));
  else check(qs_qlayer_forward(l.quantized.get(), x, 1, y, kernel));
}

int64_t read_size_file(const char* path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s.empty()) return 0;
  int64_t v = 0;
  size_t i = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') v = v * 10 + (s[i++] - '0');
  if (i < s.size() && (s[i] == 'K' || s[i] == 'k')) v <<= 10;
  if (i < s.size() && (s[i] == 'M' || s[i] == 'm')) v <<= 20;
  return v;
}

#ifdef QS_X86
__attribute__((target("avx2"))) double sum_avx2(const float* p, int64_t count) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  alignas(32) float t[8];
  _mm256_store_ps(t, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  double s = 0;
  for (float v : t) s += v;
  for (; i < count; ++i) s += p[i];
  return s;
}

__attribute__((target("avx2"))) double sum4_avx2(const float* p, int64_t quarter) {
  const float* q[4] = {p, p + quarter, p + 2 * quarter, p + 3 * quarter};
  __m256 a[4][2];
  for (auto& r : a) r[0] = r[1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= quarter; i += 16)
    for (int s = 0; s < 4; ++s) {
      a[s][0] = _mm256_add_ps(a[s][0], _mm256_loadu_ps(q[s] + i));
      a[s][1] = _mm256_add_ps(a[s][1], _mm256_loadu_ps(q[s] + i + 8));
    }
  double total = 0;
  for (int s = 0; s < 4; ++s) {
    alignas(32) float t[8];
    _mm256_store_ps(t, _mm256_add_ps(a[s][0], a[s][1]));
    for (float v : t) total += v;
    for (int64_t j = i; j < quarter; ++j) total += q[s][j];
  }
  return total;
}
#endif

// Four streams at once (the quarters of the range), as a mat-vec over several rows reads memory:
// one stream per thread leaves the hardware prefetchers idle and understates the bandwidth.
double sum_floats(const float* p, int64_t count) {
#ifdef QS_X86
  if (qs_cpu_kernel_selected() >= QS_KERNEL_AVX2) {
    const int64_t quarter = count / 4;
    return sum4_avx2(p, quarter) + sum_avx2(p + 4 * quarter, count - 4 * quarter);
  }
#endif
  float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= count; i += 8)
    for (int j = 0; j < 8; ++j) a[j] += p[i + j];
  double s = 0;
  for (float v : a) s += v;
  for (; i < count; ++i) s += p[i];
  return s;
}

}  // namespace
}  // namespace qs

extern "C" int64_t qs_cache_l3_bytes(void) {
  int64_t best = 0;
  for (int index = 0; index < 8; ++index) {
    const std::string base = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    std::ifstream level(base + "/level");
    int lv = 0;
    if (!(level >> lv)) continue;
    if (lv >= 3) best = std::max(best, qs::read_size_file((base + "/size").c_str()));
  }
  return best > 0 ? best : 32ll << 20;  // unknown: assume 32 MiB
}

extern "C" int32_t qs_bench_matvec(int32_t bits, int64_t rows, int64_t cols, int64_t layers,
                                   int32_t kernel, double min_seconds, uint64_t seed,
                                   qs_matvec_bench* out) {
  using namespace qs;
  return guard([&] {
    require_not_null(out, "out");
    require(bits == 2 || bits == 3 || bits == 4 || bits == 16 || bits == 32, "bits = ", bits,
            " must be 2, 3, 4, 16 or 32");
    require(rows > 0 && cols > 0, "rows x cols = ", rows, " x ", cols, " must be positive");
    require(rows <= (int64_t{1} << 34) / cols, "rows x cols = ", rows, " x ", cols,
            " is too large for a benchmark layer (at most 2^34 weights)");
    if (bits <= 4) {
      require(qs_hadamard_base_order(rows) != 0 && qs_hadamard_base_order(cols) != 0 && cols % 8 == 0,
              "rows = ", rows, ", cols = ", cols,
              ": quantized layers need supported Hadamard orders and cols % 8 == 0");
    }
    require(std::isfinite(min_seconds) && min_seconds > 0 && min_seconds <= 3600,
            "seconds = ", min_seconds, " must be in (0, 3600]");
    const int64_t per_layer = weight_bytes(bits, rows, cols);
    if (layers <= 0) layers = std::max<int64_t>(2, (4 * qs_cache_l3_bytes() + per_layer - 1) / per_layer);
    const double total = static_cast<double>(per_layer) * static_cast<double>(layers);
    require(total <= 16.0 * (1 << 30), "layers = ", layers, " of ", per_layer,
            " bytes each would need more than 16 GiB");
    uint64_t rng = seed;
    std::vector<Layer> all;
    all.reserve(layers);
    for (int64_t i = 0; i < layers; ++i) all.push_back(make_layer(bits, rows, cols, rng));
    std::vector<float> x(cols), y(rows);
    for (auto& v : x) v = static_cast<float>(splitmix(rng) >> 40) / 16777216.0f - 0.5f;
    for (const Layer& l : all) run_layer(l, bits, rows, cols, kernel, x.data(), y.data());
    int64_t calls = 0;
    const auto start = Clock::now();
    double elapsed = 0;
    do {
      for (const Layer& l : all) run_layer(l, bits, rows, cols, kernel, x.data(), y.data());
      calls += layers;
      elapsed = seconds_since(start);
    } while (elapsed < min_seconds);
    const double per_call = elapsed / static_cast<double>(calls);
    out->seconds_per_call = per_call;
    out->gweights_per_s = static_cast<double>(rows) * cols / per_call / 1e9;
    out->weight_gbytes_per_s = static_cast<double>(per_layer) / per_call / 1e9;
    out->fp32_equiv_gbytes_per_s = static_cast<double>(rows) * cols * 4.0 / per_call / 1e9;
    out->calls = calls;
    out->layers = layers;
    out->weight_bytes_per_layer = per_layer;
  });
}

extern "C" int32_t qs_bench_memory(int64_t bytes, double min_seconds, qs_memory_bench* out) {
  using namespace qs;
  return guard([&] {
    require_not_null(out, "out");
    if (bytes <= 0) bytes = std::max<int64_t>(256ll << 20, 8 * qs_cache_l3_bytes());
    require(bytes >= (1 << 20) && bytes <= (8ll << 30), "bytes = ", bytes,
            " must be between 1 MiB and 8 GiB");
    require(std::isfinite(min_seconds) && min_seconds > 0 && min_seconds <= 3600,
            "seconds = ", min_seconds, " must be in (0, 3600]");
    const int64_t count = bytes / 4;
    std::unique_ptr<float[]> src(new float[count]), dst(new float[count]);
    parallel_for(0, count, 1 << 20, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) src[i] = 1.0f;
      std::memset(dst.get() + lo, 0, static_cast<size_t>(hi - lo) * 4);
    });
    const int threads = num_threads();
    const int64_t chunk = (count + threads - 1) / threads;
    auto timed = [&](auto&& pass) {
      pass();  // warm-up
      int64_t passes = 0;
      const auto start = Clock::now();
      double elapsed = 0;
      do {
        pass();
        ++passes;
        elapsed = seconds_since(start);
      } while (elapsed < min_seconds);
      return static_cast<double>(count) * 4.0 * passes / elapsed / 1e9;
    };
    volatile double sink = 0;
    out->read_gbytes_per_s = timed([&] {
      std::vector<double> partial(threads, 0.0);
      parallel_for(0, threads, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) {
          const int64_t a = t * chunk, b = std::min(count, a + chunk);
          if (a < b) partial[t] = sum_floats(src.get() + a, b - a);
        }
      });
      for (double p : partial) sink = sink + p;
    });
    out->memcpy_gbytes_per_s = timed([&] {
      parallel_for(0, threads, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t t = lo; t < hi; ++t) {
          const int64_t a = t * chunk, b = std::min(count, a + chunk);
          if (a < b) std::memcpy(dst.get() + a, src.get() + a, static_cast<size_t>(b - a) * 4);
        }
      });
    });
    out->bytes = count * 4;
    out->threads = threads;
    (void)sink;
  });
}
