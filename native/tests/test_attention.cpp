// qs_attention (one token, every head, over a KV cache) on every kernel this CPU has, against a float64 softmax
// computed here, within the bound the header states; integer-valued inputs, whose scores every kernel
// computes exactly, check saturated (one-hot), soft and flat softmaxes within the rounding after the
// scores; bad input is refused.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "check.hpp"

namespace {

using qs_test::Rng;

constexpr double kEps = 1.1920928955078125e-07;  // 2^-23

struct Case {
  int64_t heads, kv_heads, positions, head_dim, stride;
  double scale;
  std::vector<float> q, keys, values;
  bool exact_scores = false;  // every kernel computes the scores without rounding
  int64_t first = 0;          // sliding window: rows before it are not attended
  double softcap = 0;         // > 0: scores soft-capped
};

// Float64 attention of every head, and the header's bound for each head's outputs.
void reference(const Case& c, bool scalar, std::vector<double>& out, std::vector<double>& bound) {
  const int64_t hd = c.head_dim, group = c.heads / c.kv_heads;
  out.assign(c.heads * hd, 0.0);
  bound.assign(c.heads, 0.0);
  for (int64_t h = 0; h < c.heads; ++h) {
    const int64_t kvo = h / group * hd;
    std::vector<double> s(c.positions, -INFINITY);
    double big = 0, vmax = 0, best = -INFINITY;
    for (int64_t p = c.first; p < c.positions; ++p) {
      double dot = 0, abs = 0;
      for (int64_t i = 0; i < hd; ++i) {
        const double a = static_cast<double>(c.q[h * hd + i]) * c.keys[p * c.stride + kvo + i];
        dot += a;
        abs += std::fabs(a);
        vmax = std::max(vmax, std::fabs(static_cast<double>(c.values[p * c.stride + kvo + i])));
      }
      s[p] = c.softcap > 0 ? c.softcap * std::tanh(dot * c.scale / c.softcap) : dot * c.scale;
      big = std::max(big, std::fabs(c.scale) * abs);
      best = std::max(best, s[p]);
    }
    double total = 0;
    for (double& v : s) total += (v = std::exp(v - best));  // exp(-inf) = 0 outside the window
    for (int64_t p = c.first; p < c.positions; ++p)
      for (int64_t i = 0; i < hd; ++i) out[h * hd + i] += s[p] / total * c.values[p * c.stride + kvo + i];
    const double d = (c.exact_scores ? 0.0 : (scalar ? 1.0 : hd / 8.0 + 16) * kEps * big) + kEps * c.softcap;
    bound[h] = 2 * vmax * std::expm1(2 * d) + (c.positions - c.first + 8) * kEps * vmax;
  }
}

Case make_case(int64_t heads, int64_t kv_heads, int64_t positions, int64_t hd, int64_t pad, double scale) {
  const int64_t stride = kv_heads * hd + pad;
  return Case{heads, kv_heads, positions, hd, stride, scale, std::vector<float>(heads * hd),
              std::vector<float>(positions * stride, NAN), std::vector<float>(positions * stride, NAN)};
}

// Fills the cached rows (not the padding, which stays NaN: no kernel may read it).
template <typename Fill>
void fill_rows(Case& c, std::vector<float>& rows, Fill fill) {
  for (int64_t p = 0; p < c.positions; ++p)
    for (int64_t i = 0; i < c.kv_heads * c.head_dim; ++i) rows[p * c.stride + i] = fill();
}

Case random_case(Rng& rng, int64_t heads, int64_t kv_heads, int64_t positions, int64_t hd, int64_t pad,
                 double magnitude) {
  Case c = make_case(heads, kv_heads, positions, hd, pad, 1.0 / std::sqrt(static_cast<double>(hd)));
  const auto normal = [&] { return static_cast<float>(magnitude * rng.normal()); };
  for (float& v : c.q) v = normal();
  fill_rows(c, c.keys, normal);
  fill_rows(c, c.values, [&] { return static_cast<float>(rng.normal()); });
  return c;
}

// Integer q and keys (|q . k| < 2^24) and a power-of-two scale, so that every kernel's scores are
// exact and the bound keeps only the rounding after them.
Case integer_case(Rng& rng, int64_t heads, int64_t kv_heads, int64_t positions, int64_t hd, int range,
                  double scale) {
  Case c = make_case(heads, kv_heads, positions, hd, 0, scale);
  const auto pick = [&] { return static_cast<float>(static_cast<int>(rng.next() % (2 * range + 1)) - range); };
  for (float& v : c.q) v = pick();
  fill_rows(c, c.keys, pick);
  fill_rows(c, c.values, [&] { return static_cast<float>(rng.normal() * 100); });
  c.exact_scores = true;
  return c;
}

std::vector<float> run(const Case& c, int32_t kernel) {
  std::vector<float> out(c.heads * c.head_dim, NAN);
  if (c.first == 0 && c.softcap == 0) {
    CHECK_OK(qs_attention(c.q.data(), c.heads, c.kv_heads, c.keys.data(), c.values.data(), c.positions,
                          c.head_dim, c.stride, c.scale, out.data(), kernel));
  } else {
    CHECK_OK(qs_attention_window(c.q.data(), c.heads, c.kv_heads, c.keys.data(), c.values.data(), c.first,
                                 c.positions, c.head_dim, c.stride, c.scale, c.softcap, out.data(), kernel));
  }
  return out;
}

// Runs every kernel on c and checks each output against the float64 reference; returns the largest
// error as a fraction of its bound.
double check_case(const Case& c) {
  double worst = 0;
  for (int32_t kernel : qs_test::cpu_kernels()) {
    std::vector<double> want, bound;
    reference(c, kernel == QS_KERNEL_SCALAR, want, bound);
    const std::vector<float> out = run(c, kernel);
    for (int64_t i = 0; i < c.heads * c.head_dim; ++i) {
      const double tol = bound[i / c.head_dim];
      CHECK_NEAR(out[i], want[i], tol);
      worst = std::max(worst, std::fabs(out[i] - want[i]) / tol);
    }
  }
  return worst;
}

void test_random() {
  Rng rng(7);
  // heads, kv_heads, positions, head_dim, row padding: head sizes with and without 32- and 8-wide
  // tails, grouped-query attention, rows longer than the heads they hold.
  const int64_t shapes[][5] = {{1, 1, 1, 8, 0},    {2, 1, 2, 8, 56},    {3, 3, 7, 13, 0},
                               {4, 2, 33, 31, 9},  {8, 8, 64, 64, 0},   {32, 32, 300, 128, 0},
                               {6, 2, 129, 96, 5}, {5, 5, 5, 1, 0},     {32, 8, 40, 128, 128}};
  double worst = 0;
  for (const auto& s : shapes)
    for (double magnitude : {1.0, 4.0})
      worst = std::max(worst, check_case(random_case(rng, s[0], s[1], s[2], s[3], s[4], magnitude)));
  std::printf("random inputs: max error %.3g of the stated bound\n", worst);
}

void test_exact_scores() {
  Rng rng(11);
  double worst = 0;
  // Range 60 at scale 1: score gaps in the hundreds, a one-hot softmax; range 3 at scale 1/16: scores
  // of order 1; range 0: all scores 0, a flat softmax.
  const struct {
    int range;
    double scale;
  } kinds[] = {{60, 1.0}, {3, 1.0 / 16}, {0, 1.0}};
  for (const auto& k : kinds)
    for (int64_t hd : {8, 13, 37, 128})
      worst = std::max(worst, check_case(integer_case(rng, 4, 2, 200, hd, k.range, k.scale)));
  std::printf("exact scores: max error %.3g of the stated bound\n", worst);
  // One-hot: k_5 = 40 q dominates, so the output is v_5 to float rounding.
  Case c = integer_case(rng, 1, 1, 50, 16, 1, 1.0);
  for (int64_t i = 0; i < 16; ++i) c.keys[5 * 16 + i] = c.q[i] * 40;
  for (int32_t kernel : qs_test::cpu_kernels()) {
    const std::vector<float> out = run(c, kernel);
    for (int i = 0; i < 16; ++i) CHECK_NEAR(out[i], c.values[5 * 16 + i], 1e-5 * std::fabs(c.values[5 * 16 + i]));
  }
}

// Sliding windows (the rows before `first` hold NaN: no kernel may read them) and soft-capped scores,
// alone and together, on random inputs large enough for the cap to bend them.
void test_window_and_softcap() {
  Rng rng(23);
  double worst = 0;
  const int64_t shapes[][5] = {{4, 2, 40, 16, 0}, {8, 8, 129, 64, 3}, {3, 1, 9, 13, 0}, {32, 8, 300, 128, 0}};
  for (const auto& sh : shapes)
    for (int64_t first : {int64_t{0}, int64_t{1}, sh[2] / 2, sh[2] - 1})
      for (double softcap : {0.0, 0.5, 3.0}) {
        if (first == 0 && softcap == 0) continue;
        Case c = random_case(rng, sh[0], sh[1], sh[2], sh[3], sh[4], 2.0);
        c.first = first;
        c.softcap = softcap;
        for (int64_t p = 0; p < first; ++p)
          for (int64_t i = 0; i < c.kv_heads * c.head_dim; ++i) c.keys[p * c.stride + i] = c.values[p * c.stride + i] = NAN;
        worst = std::max(worst, check_case(c));
      }
  std::printf("windows and soft caps: max error %.3g of the stated bound\n", worst);
  // A window of one row returns that row's values exactly; a cap of 1e-3 makes the softmax nearly
  // flat over the window (|score| < 1e-3), so the output is the mean of the values to 1e-3 relative.
  Case c = random_case(rng, 2, 1, 20, 8, 0, 1.0);
  c.first = 19;
  for (int32_t kernel : qs_test::cpu_kernels()) {
    const std::vector<float> out = run(c, kernel);
    for (int i = 0; i < 8; ++i) CHECK(out[i] == c.values[19 * 8 + i] && out[8 + i] == c.values[19 * 8 + i]);
  }
  c.first = 10;
  c.softcap = 1e-3;
  for (int32_t kernel : qs_test::cpu_kernels()) {
    const std::vector<float> out = run(c, kernel);
    for (int i = 0; i < 8; ++i) {
      double mean = 0, spread = 0;
      for (int64_t p = 10; p < 20; ++p) mean += c.values[p * 8 + i] / 10.0;
      for (int64_t p = 10; p < 20; ++p) spread = std::max(spread, std::fabs(double(c.values[p * 8 + i])));
      CHECK_NEAR(out[i], mean, 3e-3 * spread);
    }
  }
}

void test_errors() {
  std::vector<float> q(16, 1.0f), kv(128, 1.0f), out(16);
  const auto call = [&](const float* qp, int64_t heads, int64_t kv_heads, int64_t positions, int64_t stride,
                        double scale, int32_t kernel) {
    return qs_attention(qp, heads, kv_heads, kv.data(), kv.data(), positions, 8, stride, scale, out.data(), kernel);
  };
  CHECK_STATUS(call(nullptr, 1, 1, 8, 8, 1.0, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(call(q.data(), 1, 1, 0, 8, 1.0, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(call(q.data(), 1, 1, 8, 4, 1.0, 0), QS_ERR_INVALID_ARGUMENT);   // stride < head_dim
  CHECK_STATUS(call(q.data(), 2, 2, 8, 8, 1.0, 0), QS_ERR_INVALID_ARGUMENT);   // stride < 2 heads
  CHECK_STATUS(call(q.data(), 2, 3, 8, 24, 1.0, 0), QS_ERR_INVALID_ARGUMENT);  // heads % kv_heads
  CHECK_STATUS(call(q.data(), 1, 1, 8, 8, NAN, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(call(q.data(), 1, 1, 8, 8, 1.0, 9), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(call(q.data(), 1, 1, INT64_MAX / 4, 8, 1.0, 0), QS_ERR_INVALID_ARGUMENT);
  kv[8 * 7 + 3] = INFINITY;
  CHECK_STATUS(call(q.data(), 1, 1, 7, 8, 1.0, 0), QS_OK);  // row 7 is not read
  CHECK_STATUS(call(q.data(), 1, 1, 8, 8, 1.0, 0), QS_ERR_NON_FINITE);
  q[9] = NAN;
  CHECK_STATUS(call(q.data(), 2, 1, 1, 8, 1.0, 0), QS_ERR_NON_FINITE);
  q[9] = 1.0f;
  const auto window = [&](int64_t first, int64_t positions, double softcap) {
    return qs_attention_window(q.data(), 1, 1, kv.data(), kv.data(), first, positions, 8, 8, 1.0, softcap,
                               out.data(), 0);
  };
  CHECK_STATUS(window(8, 8, 0), QS_ERR_INVALID_ARGUMENT);   // first must be < positions
  CHECK_STATUS(window(-1, 8, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(window(0, 7, -1), QS_ERR_INVALID_ARGUMENT);  // negative cap
  CHECK_STATUS(window(0, 7, INFINITY), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(window(7, 8, 0), QS_ERR_NON_FINITE);          // row 7 holds the Inf
  CHECK_STATUS(window(0, 7, 2.0), QS_OK);
}

}  // namespace

int main() {
  std::printf("avx2 attention: %s\n", qs_cpu_kernel_available(QS_KERNEL_AVX2) ? "tested" : "not on this CPU");
  test_random();
  test_exact_scores();
  test_window_and_softcap();
  test_errors();
  TEST_MAIN_END();
}
