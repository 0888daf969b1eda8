// Every CUDA kernel against the CPU reference, on random and odd-sized inputs (exits 77, ctest
// "skipped", without a device, after checking that the entry points say so):
//  - RHT (qs_cuda_rht) vs qs_rht_apply_f32 for every supported n the device's shared memory allows,
//    forward and inverse, batch 3: max |err| <= 5e-5 on unit-normal input (fp32, other summation order);
//  - whole-matrix decode (qs_cuda_layer_decode) vs qs_codebook_decode: exact for E8P12, <= 1e-6 for RVQ;
//  - the layer forward (fused path for batch <= 16, GEMM path above, and each path forced) vs
//    qs_qlinear_matvec (double-precision products of the exact decode): relative RMS error
//    <= 2e-3 and max |err| <= 1e-2 * max |y| (fp16 activations: relative rounding 2^-11 per entry;
//    the GEMM path also rounds W~ to fp16);
//  - bad arguments are refused with a status, not a crash.
// QUIPSHARP_TEST_QUICK=1 (used under compute-sanitizer) keeps the small shapes and n <= 8192.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "check.hpp"
#include "quipsharp/quipsharp_cuda.h"

namespace {

bool quick() {
  const char* q = std::getenv("QUIPSHARP_TEST_QUICK");
  return q != nullptr && q[0] == '1';
}

#define CHECK_CUDA_OK(call) CHECK_OK_OF(call, qs_cuda_last_error)

void check_rht(int device) {
  int cases = 0, too_long = 0;
  double worst = 0;
  for (int m : {1, 12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172}) {
    for (int64_t len = 1; m * len <= (quick() ? 8192 : 65536); len *= 2) {
      const int64_t n = m * len;
      if (qs_hadamard_base_order(n) != m) continue;
      const int64_t batch = 3;
      qs_test::Rng rng(static_cast<uint64_t>(n) * 31 + 7);
      std::vector<float> x(batch * n), s(n);
      for (auto& v : x) v = static_cast<float>(rng.normal());
      for (auto& v : s) v = (rng.next() >> 63) ? -1.0f : 1.0f;
      for (int inverse = 0; inverse < 2; ++inverse) {
        std::vector<float> ref = x, got = x;
        CHECK_OK(qs_rht_apply_f32(ref.data(), batch, n, 1, s.data(), inverse));
        const int st = qs_cuda_rht(device, got.data(), batch, n, s.data(), inverse);
        if (st == QS_ERR_INVALID_ARGUMENT && std::string(qs_cuda_last_error()).find("shared memory") != std::string::npos) {
          ++too_long;
          continue;
        }
        CHECK_CUDA_OK(st);
        double err = 0;
        for (size_t i = 0; i < ref.size(); ++i) err = std::max(err, (double)std::fabs(ref[i] - got[i]));
        if (err > 5e-5) std::fprintf(stderr, "RHT n = %lld inverse %d: max |err| %g\n", (long long)n, inverse, err);
        CHECK(err <= 5e-5);
        worst = std::max(worst, err);
        ++cases;
      }
    }
  }
  std::printf("RHT: %d (n, direction) cases, max |err| %.3g; %d too long for this device\n", cases, worst, too_long);
  CHECK(cases >= (quick() ? 40 : 100));
  // n = 4096 and 8192 (the latency targets) must fit every supported device.
  std::vector<float> x(8192, 1.0f), s(8192, 1.0f);
  CHECK_CUDA_OK(qs_cuda_rht(device, x.data(), 1, 8192, s.data(), 0));
  CHECK_STATUS(qs_cuda_rht(device, x.data(), 1, 100, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_cuda_rht(device, nullptr, 1, 64, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_cuda_rht(device, x.data(), 1, 64, s.data(), 2), QS_ERR_INVALID_ARGUMENT);
  CHECK_CUDA_OK(qs_cuda_rht(device, x.data(), 0, 64, s.data(), 0));
}

// An address that is no layer: create must leave *out as it was on failure.
int sentinel_target;

struct Layer {
  int32_t id;
  int64_t m, n;
  int32_t use_rht;
  int64_t rht_rows, rht_cols, code_cols;
  std::vector<uint32_t> codes;
  std::vector<float> s_in, s_out;
  double wscale;
  qs_qlinear_desc desc() const {
    return qs_qlinear_desc{id, 0.0, codes.data(), m, n, s_in.data(), s_out.data(), wscale, use_rht};
  }
};

Layer random_layer(int32_t id, int64_t m, int64_t n, int32_t use_rht, uint64_t seed) {
  Layer L{id, m, n, use_rht, 0, 0, 0, {}, {}, {}, 0.37};
  int64_t sh[3];
  CHECK_OK(qs_qlinear_shape(m, n, use_rht, sh));
  L.rht_rows = sh[0];
  L.rht_cols = sh[1];
  L.code_cols = sh[2];
  qs_test::Rng rng(seed);
  L.codes.resize(L.rht_rows * L.code_cols / 8);
  for (auto& c : L.codes) {
    const uint32_t a = static_cast<uint32_t>(rng.next() & 0xFFFF), b = static_cast<uint32_t>(rng.next());
    c = id == QS_CODEBOOK_E8P12 ? a : id == QS_CODEBOOK_E8P12RVQ4B ? (a << 16 | (b & 0xFFFF)) : (a << 16 | (b & 0xFF));
  }
  L.s_in.resize(L.rht_cols);
  L.s_out.resize(L.rht_rows);
  for (auto& v : L.s_in) v = (rng.next() >> 63) ? -1.0f : 1.0f;
  for (auto& v : L.s_out) v = (rng.next() >> 63) ? -1.0f : 1.0f;
  return L;
}

void check_decode(int device, const Layer& L, qs_cuda_layer* dl) {
  const int64_t count = L.rht_rows * L.code_cols;
  std::vector<float> ref(count), got(count);
  CHECK_OK(qs_codebook_decode(L.id, 0.0, L.codes.data(), count / 8, ref.data()));
  CHECK_CUDA_OK(qs_cuda_layer_decode(dl, got.data()));
  double err = 0;
  for (int64_t i = 0; i < count; ++i) err = std::max(err, (double)std::fabs(ref[i] - got[i]));
  CHECK(err <= (L.id == QS_CODEBOOK_E8P12 ? 0.0 : 1e-6));
  (void)device;
}

// Returns false (with a message) when the errors exceed the stated bounds.
void check_forward(const Layer& L, qs_cuda_layer* dl, int64_t batch, int32_t path, double scale) {
  CHECK_CUDA_OK(qs_cuda_layer_set_path(dl, path));
  qs_test::Rng rng(static_cast<uint64_t>(batch * 1000 + path));
  std::vector<float> x(batch * L.n), ref(batch * L.m), got(batch * L.m, NAN);
  for (auto& v : x) v = static_cast<float>(rng.normal() * scale);
  const qs_qlinear_desc d = L.desc();
  CHECK_OK(qs_qlinear_matvec(&d, x.data(), batch, ref.data()));
  if (batch == 1) CHECK_CUDA_OK(qs_cuda_layer_matvec(dl, x.data(), got.data()));
  else CHECK_CUDA_OK(qs_cuda_layer_matmul(dl, x.data(), batch, got.data()));
  double err2 = 0, ref2 = 0, max_err = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double e = std::fabs((double)ref[i] - got[i]);
    err2 += e * e;
    ref2 += (double)ref[i] * ref[i];
    max_err = std::max(max_err, std::isnan(got[i]) ? INFINITY : e);
    max_ref = std::max(max_ref, (double)std::fabs(ref[i]));
  }
  const double rel = std::sqrt(err2 / std::max(ref2, 1e-300));
  const bool good = rel <= 2e-3 && max_err <= 1e-2 * max_ref;
  std::printf("  id %d %lld x %lld rht %d batch %lld path %d: rel rms err %.3g, max |err| %.3g (max |y| %.3g)%s\n",
              L.id, (long long)L.m, (long long)L.n, L.use_rht, (long long)batch, path, rel, max_err, max_ref,
              good ? "" : "  <-- FAIL");
  CHECK(good);
}

void check_layers(int device) {
  struct Case { int32_t id; int64_t m, n; int32_t rht; };
  const Case cases[] = {
      {QS_CODEBOOK_E8P12, 4096, 4096, 1},       {QS_CODEBOOK_E8P12, 11008, 4096, 1},
      {QS_CODEBOOK_E8P12, 4096, 11008, 1},      {QS_CODEBOOK_E8P12, 172, 172, 1},
      {QS_CODEBOOK_E8P12, 100, 300, 1},         {QS_CODEBOOK_E8P12, 48, 64, 0},
      {QS_CODEBOOK_E8P12, 13, 21, 0},           {QS_CODEBOOK_E8P12RVQ4B, 1024, 5120, 1},
      {QS_CODEBOOK_E8P12RVQ4B, 200, 72, 1},     {QS_CODEBOOK_E8P12RVQ3B, 1024, 5120, 1},
      {QS_CODEBOOK_E8P12RVQ3B, 200, 72, 1},     {QS_CODEBOOK_E8P12RVQ3B, 40, 24, 0},
  };
  for (const Case& c : cases) {
    if (quick() && c.m * c.n > 1024 * 5120) continue;
    const Layer L = random_layer(c.id, c.m, c.n, c.rht, static_cast<uint64_t>(c.m * 7 + c.n));
    const qs_qlinear_desc d = L.desc();
    qs_cuda_layer* dl = nullptr;
    if (qs_cuda_layer_create(device, &d, &dl) != QS_OK) {
      std::fprintf(stderr, "create %d %lld x %lld: %s\n", c.id, (long long)c.m, (long long)c.n, qs_cuda_last_error());
      CHECK(dl != nullptr);
      continue;
    }
    CHECK(qs_cuda_layer_weight_bytes(dl) > 0);
    check_decode(device, L, dl);
    for (int64_t batch : {1, 3, 8, 13})
      check_forward(L, dl, batch, QS_CUDA_PATH_AUTO, 1.0);
    check_forward(L, dl, 40, QS_CUDA_PATH_AUTO, 1.0);  // GEMM
    check_forward(L, dl, 5, QS_CUDA_PATH_GEMM, 1.0);
    check_forward(L, dl, 21, QS_CUDA_PATH_FUSED, 1.0);
    check_forward(L, dl, 1, QS_CUDA_PATH_AUTO, 3e4);   // large activations: no fp16 overflow
    check_forward(L, dl, 2, QS_CUDA_PATH_AUTO, 1e-6);  // tiny ones: no underflow
    // Stale accumulators: the GEMM path leaves rows batch .. 15 of its tile, the benchmark hook all
    // rows it touched; the next fused forward must clear them first.
    check_forward(L, dl, 3, QS_CUDA_PATH_GEMM, 1.0);
    check_forward(L, dl, 8, QS_CUDA_PATH_FUSED, 1.0);
    CHECK_CUDA_OK(qs_cuda_layer_set_path(dl, QS_CUDA_PATH_AUTO));
    CHECK_CUDA_OK(qs_cuda_layer_core_device(dl, 5, nullptr));
    check_forward(L, dl, 5, QS_CUDA_PATH_AUTO, 1.0);
    // A zero vector gives exactly zero (and the accumulators stay clear for the next call).
    std::vector<float> zero(L.n, 0.0f), y(L.m, 1.0f);
    CHECK_CUDA_OK(qs_cuda_layer_set_path(dl, QS_CUDA_PATH_AUTO));
    CHECK_CUDA_OK(qs_cuda_layer_matvec(dl, zero.data(), y.data()));
    CHECK(std::all_of(y.begin(), y.end(), [](float v) { return v == 0.0f; }));
    CHECK_STATUS(qs_cuda_layer_matmul(dl, zero.data(), 0, y.data()), QS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(qs_cuda_layer_matvec(dl, nullptr, y.data()), QS_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(qs_cuda_layer_set_path(dl, 7), QS_ERR_INVALID_ARGUMENT);
    qs_cuda_layer_free(dl);
  }
  // Bad inputs: the CPU library's validation and messages, the status of each, *out untouched.
  const Layer L = random_layer(QS_CODEBOOK_E8P12, 32, 64, 1, 5);
  qs_cuda_layer* const sentinel = reinterpret_cast<qs_cuda_layer*>(&sentinel_target);
  auto refused = [&](qs_qlinear_desc d, int32_t dev, int32_t want) {
    qs_cuda_layer* out = sentinel;
    CHECK_STATUS(qs_cuda_layer_create(dev, &d, &out), want);
    CHECK(out == sentinel);
    CHECK(std::strlen(qs_cuda_last_error()) > 0);
  };
  qs_qlinear_desc bad = L.desc();
  bad.codebook_id = 99;
  refused(bad, device, QS_ERR_INVALID_ARGUMENT);
  bad = L.desc();
  bad.codes = nullptr;
  refused(bad, device, QS_ERR_INVALID_ARGUMENT);
  bad = L.desc();
  bad.cols = 100;
  refused(bad, device, QS_ERR_INVALID_ARGUMENT);
  refused(L.desc(), 999, QS_ERR_INVALID_ARGUMENT);
  qs_cuda_layer* out = sentinel;
  CHECK_STATUS(qs_cuda_layer_create(device, nullptr, &out), QS_ERR_INVALID_ARGUMENT);
  CHECK(out == sentinel);
  const qs_qlinear_desc good = L.desc();
  CHECK_STATUS(qs_cuda_layer_create(device, &good, nullptr), QS_ERR_INVALID_ARGUMENT);
  qs_cuda_layer_free(nullptr);
}

}  // namespace

int main() {
  int32_t n = 0;
  CHECK_CUDA_OK(qs_cuda_device_count(&n));
  if (n == 0) {
    const Layer L = random_layer(QS_CODEBOOK_E8P12, 32, 64, 1, 5);
    const qs_qlinear_desc d = L.desc();
    qs_cuda_layer* const sentinel = reinterpret_cast<qs_cuda_layer*>(&sentinel_target);
    qs_cuda_layer* out = sentinel;
    CHECK_STATUS(qs_cuda_layer_create(0, &d, &out), QS_ERR_NO_CUDA_DEVICE);
    CHECK(out == sentinel);
    std::vector<float> x(64, 1.0f), s(64, 1.0f);
    CHECK_STATUS(qs_cuda_rht(0, x.data(), 1, 64, s.data(), 0), QS_ERR_NO_CUDA_DEVICE);
    std::printf("skipped: no CUDA device (%s)\n", qs_cuda_last_error());
    return qs_test::failures() == 0 ? 77 : 1;
  }
  check_rht(0);
  check_layers(0);
  TEST_MAIN_END();
}
