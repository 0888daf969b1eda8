// The thread pool: every thread count gives bit-identical results, and concurrent callers (which the
// pool serializes or runs inline) get the same results as a sequential caller.
#include <cmath>
#include <thread>
#include <vector>

#include "check.hpp"

namespace {

struct Result {
  std::vector<uint32_t> codes;
  std::vector<float> s_in, s_out;
  double wscale = 0, proxy_loss = 0;
  bool operator==(const Result& o) const {
    return codes == o.codes && s_in == o.s_in && s_out == o.s_out && wscale == o.wscale &&
           proxy_loss == o.proxy_loss;
  }
};

constexpr int64_t kRows = 192, kCols = 256;

Result quantize(const std::vector<float>& w, const std::vector<double>& h, int32_t codebook) {
  qs_quant_params p{};
  p.codebook_id = codebook;
  p.rounding = QS_ROUNDING_BLOCK_LDLQ;
  p.refine_passes = 2;
  p.use_rht = 1;
  p.damping = 0.01;
  p.seed = 77;
  Result r;
  r.codes.resize(kRows * kCols / 8);
  r.s_in.resize(kCols);
  r.s_out.resize(kRows);
  qs_quant_result result{};
  CHECK_OK(qs_quantize_matrix(w.data(), kRows, kCols, h.data(), 1, nullptr, &p, r.codes.data(),
                              r.s_in.data(), r.s_out.data(), &result));
  r.wscale = result.wscale;
  r.proxy_loss = result.proxy_loss;
  return r;
}

// Single long vectors whose dense Hadamard base step runs on the pool (11008 = 172 * 64, 28672 =
// 28 * 1024) and one that does not (14336): every thread count and concurrent callers give the bits
// of one thread.
void rht_threads_identical() {
  qs_test::Rng rng(8);
  for (int64_t n : {11008, 28672, 14336}) {
    std::vector<float> x(n), signs(n);
    for (float& v : x) v = static_cast<float>(rng.normal());
    for (float& v : signs) v = rng.next() % 2 ? 1.0f : -1.0f;
    auto rht = [&] {
      std::vector<float> y = x;
      CHECK_OK(qs_rht_apply_f32(y.data(), 1, n, 1, signs.data(), 0));
      return y;
    };
    CHECK_OK(qs_set_num_threads(1));
    const std::vector<float> reference = rht();
    for (int32_t t = 2; t <= 4; ++t) {
      CHECK_OK(qs_set_num_threads(t));
      CHECK(rht() == reference);
    }
    std::vector<std::vector<float>> results(4);
    std::vector<std::thread> callers;
    for (int i = 0; i < 4; ++i) callers.emplace_back([&, i] { results[i] = rht(); });
    for (auto& c : callers) c.join();
    for (const auto& r : results) CHECK(r == reference);
  }
}

}  // namespace

int main() {
  qs_test::Rng rng(3);
  std::vector<float> w(kRows * kCols);
  for (float& v : w) v = static_cast<float>(rng.normal());
  // H = A A^T / 512 + small ridge: correlated, SPD.
  std::vector<float> a(kCols * 512);
  for (float& v : a) v = static_cast<float>(rng.normal());
  for (int64_t i = 1; i < kCols; ++i)
    for (int64_t s = 0; s < 512; ++s) a[i * 512 + s] = 0.9f * a[(i - 1) * 512 + s] + 0.4f * a[i * 512 + s];
  std::vector<double> h(kCols * kCols);
  for (int64_t i = 0; i < kCols; ++i)
    for (int64_t j = 0; j < kCols; ++j) {
      double s = 0;
      for (int64_t k = 0; k < 512; ++k) s += double(a[i * 512 + k]) * a[j * 512 + k];
      h[i * kCols + j] = s / 512;
    }
  for (int64_t i = 0; i < kCols; ++i)
    for (int64_t j = 0; j < i; ++j) h[i * kCols + j] = h[j * kCols + i];

  const int32_t original = qs_get_num_threads();
  for (int32_t codebook : {QS_CODEBOOK_E8P12, QS_CODEBOOK_E8P12RVQ3B, QS_CODEBOOK_E8P12RVQ4B}) {
    CHECK_OK(qs_set_num_threads(1));
    const Result reference = quantize(w, h, codebook);
    for (int32_t t = 2; t <= 4; ++t) {
      CHECK_OK(qs_set_num_threads(t));
      CHECK(qs_get_num_threads() == t);
      CHECK(quantize(w, h, codebook) == reference);
    }
    // Four callers at once on a 2-thread pool.
    CHECK_OK(qs_set_num_threads(2));
    std::vector<Result> results(4);
    std::vector<std::thread> callers;
    for (int i = 0; i < 4; ++i)
      callers.emplace_back([&, i] { results[i] = quantize(w, h, codebook); });
    for (auto& c : callers) c.join();
    for (const Result& r : results) CHECK(r == reference);
  }
  rht_threads_identical();
  CHECK_STATUS(qs_set_num_threads(0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_set_num_threads(1000), QS_ERR_INVALID_ARGUMENT);
  CHECK_OK(qs_set_num_threads(original));
  TEST_MAIN_END();
}
