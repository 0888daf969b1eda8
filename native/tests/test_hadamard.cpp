// Tests of the Hadamard / RHT module (§2, §10.1 of shared/design/QUIPSHARP.md) against references
// computed here independently: base matrices rebuilt from the §2.3 recipes with a table of squares
// (the library uses Euler's criterion), the dense Kronecker matrix from its entry formula, plain
// O(n^2) matrix-vector products, and the sign generator re-derived from its documented definition.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "kernels/hadamard.hpp"
#include "quipsharp/quipsharp.h"

namespace {

const int32_t kBases[] = {1, 12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172};

double now_s() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

struct Rng {  // xorshift64*, independent of the library's generator
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 2654435761ULL + 0x1234567ULL) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ULL;
  }
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {  // Box-Muller
    double u = uniform();
    if (u < 1e-300) u = 1e-300;
    return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * uniform());
  }
};

bool pow2(int64_t v) { return v > 0 && (v & (v - 1)) == 0; }

int parity(uint64_t v) {
  int p = 0;
  for (; v; v >>= 1) p ^= static_cast<int>(v & 1);
  return p;
}

std::vector<int8_t> base(int32_t m) {
  std::vector<int8_t> h(static_cast<size_t>(m) * m, 0);
  CHECK_OK(qs_hadamard_base_matrix(m, h.data()));
  return h;
}

// ---- independent reconstruction of §2.3 -----------------------------------------------------------

std::vector<int> chi_table(int q) {  // by listing the squares
  std::vector<int> chi(q, -1);
  chi[0] = 0;
  for (int x = 1; x < q; ++x) chi[(x * x) % q] = 1;
  return chi;
}

std::vector<int> ref_paley1(int q) {
  const int m = q + 1;
  const std::vector<int> chi = chi_table(q);
  std::vector<int> h(m * m);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < m; ++j)
      h[i * m + j] = i == 0 ? (j == 0 ? 1 : -1) : j == 0 ? 1 : (i == j) + chi[((i - j) % q + q) % q];
  return h;
}

std::vector<int> ref_paley2(int q) {
  const int c = q + 1, m = 2 * c;
  const std::vector<int> chi = chi_table(q);
  std::vector<int> C(c * c);
  for (int i = 0; i < c; ++i)
    for (int j = 0; j < c; ++j)
      C[i * c + j] = (i == 0 && j == 0) ? 0 : (i == 0 || j == 0) ? 1 : chi[((i - j) % q + q) % q];
  std::vector<int> h(m * m);
  for (int i = 0; i < c; ++i) {
    for (int j = 0; j < c; ++j) {
      const int v = C[i * c + j], e = (i == j);
      h[i * m + j] = v + e;
      h[i * m + j + c] = v - e;
      h[(i + c) * m + j] = v - e;
      h[(i + c) * m + j + c] = -v - e;
    }
  }
  return h;
}

struct WRows {
  int m;
  const char* r[4];
  int sq[4];  // (sum of first row)^2 per §2.3
};
const WRows kWRows[] = {
    {52, {"+-+--++++--+-", "+---++++++---", "++-+--++--+-+", "+----+--+----"}, {1, 1, 1, 49}},
    {116,
     {"++--+--+-+++-++++-+++-+--+--+", "++++-++-+---++++++---+-++-+++", "+-+---++--+-++++++-+--++---+-",
      "+++---++--+-+----+-+--++---++"},
     {25, 81, 1, 9}},
    {124,
     {"+--+++-+--+----++----+--+-+++--", "+--+++-+--+----++----+--+-+++--", "+-----+++-+-+--++--+-+-+++-----",
      "++++++---+-+-++--++-+-+---+++++"},
     {25, 25, 25, 49}},
    {156,
     {"+++--+-+-----+--++----++--+-----+-+--++", "++++---+--++----+-+--+-+----++--+---+++",
      "+++--++-+---+-+--+----+--+-+---+-++--++", "+---++-+-+-----+++-++-+++-----+-+-++---"},
     {81, 25, 25, 25}},
    {172,
     {"+---++--++++-+-+++-++--++-+++-+-++++--++---", "++-++++++----+-+--++-++-++--+-+----++++++-+",
      "+++-+-++--+-+-++++-+----+-++++-+-+--++-+-++", "++---++++-+--+--++--------++--+--+-++++---+"},
     {49, 49, 49, 25}},
};

// ---- base matrices ----------------------------------------------------------------------------------

void test_bases() {
  for (int32_t m : kBases) {
    const std::vector<int8_t> h = base(m);
    bool pm1 = true, gram = true;
    for (int8_t v : h) pm1 = pm1 && (v == 1 || v == -1);
    for (int i = 0; i < m; ++i) {
      for (int j = 0; j < m; ++j) {
        int64_t s = 0;
        for (int k = 0; k < m; ++k) s += int64_t{h[i * m + k]} * h[j * m + k];
        gram = gram && (s == (i == j ? m : 0));
      }
    }
    if (!pm1 || !gram) std::fprintf(stderr, "base %d: entries +-1 %d, H H^T = mI %d\n", m, pm1, gram);
    CHECK(pm1);
    CHECK(gram);
    std::vector<int> ref;
    const bool paley1 = (m == 12 || m == 20 || m == 60 || m == 108 || m == 140);
    const bool paley2 = (m == 28 || m == 36);
    if (paley1) {
      ref = ref_paley1(m - 1);
      bool skew = true;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) skew = skew && (h[i * m + j] + h[j * m + i] == (i == j ? 2 : 0));
      CHECK(skew);
    } else if (paley2) {
      ref = ref_paley2(m / 2 - 1);
      bool sym = true;
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) sym = sym && (h[i * m + j] == h[j * m + i]);
      CHECK(sym);
    } else if (m > 1) {
      const int t = m / 4;
      const WRows* w = nullptr;
      for (const WRows& r : kWRows)
        if (r.m == m) w = &r;
      CHECK(w != nullptr);
      if (!w) continue;
      // Blocks: X(bi, bj)[i][j] = h[(bi t + i) m + bj t + j]; layout of §2.3 with A..D = row-0 blocks.
      static const int which[4][4] = {{0, 1, 2, 3}, {1, 0, 3, 2}, {2, 3, 0, 1}, {3, 2, 1, 0}};
      static const int sign[4][4] = {{1, 1, 1, 1}, {-1, 1, -1, 1}, {-1, 1, 1, -1}, {-1, -1, 1, 1}};
      bool circ = true, sym = true, layout = true, rows_ok = true;
      for (int blk = 0; blk < 4; ++blk) {
        const int8_t* x0 = &h[blk * t];
        for (int i = 0; i < t; ++i) {
          for (int j = 0; j < t; ++j) {
            const int v = x0[i * m + j];
            circ = circ && (v == x0[((j - i) % t + t) % t]);
            sym = sym && (v == x0[j * m + i]);
          }
        }
        int sum = 0;
        for (int j = 0; j < t; ++j) {
          const int expect = w->r[blk][j] == '+' ? 1 : -1;
          rows_ok = rows_ok && (x0[j] == expect);
          sum += x0[j];
        }
        CHECK(sum * sum == w->sq[blk]);
        // Palindrome after the first entry.
        const std::string s = w->r[blk];
        CHECK(std::string(s.rbegin(), s.rend() - 1) == s.substr(1));
      }
      for (int bi = 0; bi < 4; ++bi)
        for (int bj = 0; bj < 4; ++bj)
          for (int i = 0; i < t; ++i)
            for (int j = 0; j < t; ++j)
              layout = layout && (h[(bi * t + i) * m + bj * t + j] ==
                                  sign[bi][bj] * h[i * m + which[bi][bj] * t + j]);
      int total = 0;
      for (int k = 0; k < 4; ++k) total += w->sq[k];
      CHECK(total == 4 * t);
      CHECK(circ);
      CHECK(sym);
      CHECK(layout);
      CHECK(rows_ok);
    } else {
      CHECK(h[0] == 1);
    }
    if (!ref.empty()) {
      bool same = true;
      for (int i = 0; i < m * m; ++i) same = same && (ref[i] == h[i]);
      if (!same) std::fprintf(stderr, "base %d differs from the §2.3 recipe\n", m);
      CHECK(same);
    }
  }
  std::vector<int8_t> buf(200 * 200);
  CHECK_STATUS(qs_hadamard_base_matrix(13, buf.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::strstr(qs_last_error(), "13") != nullptr);
  CHECK_STATUS(qs_hadamard_base_matrix(0, buf.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_base_matrix(24, buf.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_base_matrix(12, nullptr), QS_ERR_INVALID_ARGUMENT);
}

void test_threaded_init() {
  // Concurrent first use of the tables (run before anything else touches them).
  std::vector<std::vector<int8_t>> got(4, std::vector<int8_t>(172 * 172));
  std::vector<int> status(4, -1);
  std::vector<std::thread> th;
  for (int i = 0; i < 4; ++i)
    th.emplace_back([&, i] { status[i] = qs_hadamard_base_matrix(172, got[i].data()); });
  for (auto& t : th) t.join();
  for (int i = 0; i < 4; ++i) {
    CHECK(status[i] == QS_OK);
    CHECK(got[i] == got[0]);
  }
}

// ---- selection (§2.2) -------------------------------------------------------------------------------

void test_selection() {
  const int64_t ex[][2] = {{4096, 1},   {5120, 20},   {11008, 172}, {13824, 108}, {14336, 28},
                           {28672, 28}, {6656, 52},   {17920, 140}, {22016, 172}, {15360, 60},
                           {10240, 20}, {172, 172},   {64, 1},      {1, 1},       {2, 1},
                           {12, 12},    {24, 12},     {116, 116},   {248, 124},   {1 << 20, 1},
                           {100, 0},    {1032, 0},    {0, 0},       {-4, 0},      {3, 0},
                           {6, 0},      {180, 0},     {10920, 0},   {13696, 0},   {5504, 172}};
  for (const auto& e : ex) {
    const int32_t got = qs_hadamard_base_order(e[0]);
    if (got != e[1]) std::fprintf(stderr, "base order of %lld: %d, expected %lld\n", (long long)e[0], got, (long long)e[1]);
    CHECK(got == e[1]);
  }
  // Equivalent formulation: n is supported iff n = m * 2^k for a base m (unique), and m_b = m.
  bool all = true;
  for (int64_t n = 1; n <= 70000; ++n) {
    int32_t ref = 0;
    for (int32_t m : kBases)
      if (n % m == 0 && pow2(n / m)) ref = m;
    all = all && (qs_hadamard_base_order(n) == ref);
  }
  CHECK(all);
  // Rejected orders give a clear error from the transforms.
  std::vector<float> xf(1032, 1.0f);
  std::vector<double> xd(1032, 1.0);
  CHECK_STATUS(qs_hadamard_transform_f32(xf.data(), 1, 100, 0), QS_ERR_INVALID_ARGUMENT);
  const std::string msg = qs_last_error();
  std::printf("  message: %s\n", msg.c_str());
  CHECK(msg.find("n = 100") != std::string::npos);
  CHECK(msg.find("nearest supported: 96, 104") != std::string::npos);
  CHECK_STATUS(qs_hadamard_transform_f32(xf.data(), 1, 1032, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("1032") != std::string::npos);
  CHECK_STATUS(qs_hadamard_transform_f64(xd.data(), 1, 1032, 1), QS_ERR_INVALID_ARGUMENT);
  // Data untouched by a rejected call.
  bool untouched = true;
  for (float v : xf) untouched = untouched && v == 1.0f;
  CHECK(untouched);
  // Helpers.
  const std::vector<int64_t> near = qs::nearby_supported_orders(1032);
  CHECK(near.size() == 2 && near[0] == 1024 && near[1] == 1120);  // 1120 = 140 * 8
  CHECK(qs::next_supported_order(10920, 8) == 11008);
  CHECK(qs::next_supported_order(13696, 8) == 13824);
  CHECK(qs::next_supported_order(172, 8) == 192);  // 172 is not a multiple of 8; 176, 184 unsupported
  CHECK(qs::next_supported_order(172) == 172);
  CHECK(qs::next_supported_order(0) == 0);
  for (int64_t c : near) CHECK(qs_hadamard_base_order(c) != 0);
}

// ---- dense matrix and tiny cases --------------------------------------------------------------------

// Reference dense M_n (double) from the definition, using the base matrix.
std::vector<double> ref_dense(int64_t n) {
  const int32_t mb = qs_hadamard_base_order(n);
  const int64_t L = n / mb;
  const std::vector<int8_t> h = base(mb);
  std::vector<double> out(static_cast<size_t>(n * n));
  const double s = 1.0 / std::sqrt(static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      out[i * n + j] = h[(i / L) * mb + j / L] * (parity((i % L) & (j % L)) ? -1.0 : 1.0) * s;
  return out;
}

void test_tiny() {
  float x1[1] = {3.0f};
  CHECK_OK(qs_hadamard_transform_f32(x1, 1, 1, 0));
  CHECK_NEAR(x1[0], 3.0, 0);
  float x2[2] = {1.0f, 2.0f};
  CHECK_OK(qs_hadamard_transform_f32(x2, 1, 2, 0));
  CHECK_NEAR(x2[0], 3.0 / std::sqrt(2.0), 1e-6);
  CHECK_NEAR(x2[1], -1.0 / std::sqrt(2.0), 1e-6);
  double x4[8] = {1, 2, 3, 4, 0, 1, 0, 0};  // two vectors; S_4 rows ++++, +-+-, ++--, +--+
  CHECK_OK(qs_hadamard_transform_f64(x4, 2, 4, 1));
  const double e4[8] = {5, -1, -2, 0, 0.5, -0.5, 0.5, -0.5};
  for (int i = 0; i < 8; ++i) CHECK_NEAR(x4[i], e4[i], 1e-15);
  float m4[16];
  CHECK_OK(qs_hadamard_matrix(4, m4));
  const int s4[16] = {1, 1, 1, 1, 1, -1, 1, -1, 1, 1, -1, -1, 1, -1, -1, 1};
  for (int i = 0; i < 16; ++i) CHECK_NEAR(m4[i], 0.5 * s4[i], 0);
  // n = 24 = 12 * 2: M e_j = column j of (H_12 ⊗ S_2)/sqrt(24); M^T e_j = row j.
  const std::vector<int8_t> h12 = base(12);
  for (int j = 0; j < 24; ++j) {
    for (int t = 0; t < 2; ++t) {
      double e[24] = {0};
      e[j] = 1;
      CHECK_OK(qs_hadamard_transform_f64(e, 1, 24, t));
      for (int i = 0; i < 24; ++i) {
        const int r = t ? j : i, c = t ? i : j;  // entry (r, c) of M
        const double expect = h12[(r / 2) * 12 + c / 2] * (((r % 2) & (c % 2)) ? -1 : 1) / std::sqrt(24.0);
        CHECK_NEAR(e[i], expect, 1e-15);
      }
    }
  }
}

void test_dense_vs_fast() {
  Rng rng(7);
  int count = 0;
  for (int32_t m : kBases) {
    std::vector<int64_t> ns;
    const int64_t ls[] = {1, 2, 4, 8, 32};
    for (int64_t l : ls)
      if (m * l <= 4096) ns.push_back(m * l);
    int64_t big = m;
    while (big * 2 <= 4096) big *= 2;
    if (big != ns.back()) ns.push_back(big);
    for (int64_t n : ns) {
      ++count;
      std::vector<float> d(static_cast<size_t>(n * n));
      CHECK_OK(qs_hadamard_matrix(n, d.data()));
      if (n <= 1024) {  // the dense matrix itself against the definition
        const std::vector<double> r = ref_dense(n);
        double err = 0;
        for (size_t i = 0; i < r.size(); ++i) err = std::fmax(err, std::fabs(r[i] - d[i]));
        CHECK(err <= 1e-7);
      }
      const int batch = 3;
      std::vector<double> x(static_cast<size_t>(batch * n));
      for (double& v : x) v = rng.normal();
      for (int t = 0; t < 2; ++t) {
        std::vector<float> yf(x.begin(), x.end());
        std::vector<double> yd(x);
        // Column kernel: the vectors as the columns of an n x batch matrix, all-plus signs
        // (forward = M^T v, inverse = M v).
        std::vector<float> xt(static_cast<size_t>(batch * n));
        for (int b = 0; b < batch; ++b)
          for (int64_t i = 0; i < n; ++i) xt[i * batch + b] = static_cast<float>(x[b * n + i]);
        const std::vector<float> ones(static_cast<size_t>(n), 1.0f);
        CHECK_OK(qs_hadamard_transform_f32(yf.data(), batch, n, t));
        CHECK_OK(qs_hadamard_transform_f64(yd.data(), batch, n, t));
        CHECK_OK(qs_rht_apply_f32(xt.data(), n, batch, 0, ones.data(), 1 - t));
        double ef = 0, ed = 0, ec = 0;
        for (int b = 0; b < batch; ++b) {
          for (int64_t i = 0; i < n; ++i) {
            double ref = 0;
            for (int64_t j = 0; j < n; ++j) ref += (t ? d[j * n + i] : d[i * n + j]) * x[b * n + j];
            ef = std::fmax(ef, std::fabs(ref - yf[b * n + i]));
            ed = std::fmax(ed, std::fabs(ref - yd[b * n + i]));
            ec = std::fmax(ec, std::fabs(ref - xt[i * batch + b]));
          }
        }
        // The reference uses float matrix entries: ~1e-7 relative each.
        if (ef > 2e-5 || ed > 2e-6 || ec > 2e-5)
          std::fprintf(stderr, "n %lld t %d: err f32 %g f64 %g cols %g\n", (long long)n, t, ef, ed, ec);
        CHECK(ef <= 2e-5);
        CHECK(ed <= 2e-6);
        CHECK(ec <= 2e-5);
      }
    }
  }
  std::printf("  dense vs fast: %d orders\n", count);
  float tiny[4];
  CHECK_STATUS(qs_hadamard_matrix(16384, tiny), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("16384") != std::string::npos);
  CHECK_STATUS(qs_hadamard_matrix(100, tiny), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_matrix(4, nullptr), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_matrix(0, tiny), QS_ERR_INVALID_ARGUMENT);
}

// ---- orthogonality and norms ------------------------------------------------------------------------

void test_orthogonality() {
  const int64_t ns[] = {64, 96, 208, 232, 248, 280, 312, 448, 688};
  for (int64_t n : ns) {
    for (int t = 0; t < 2; ++t) {
      std::vector<double> r(static_cast<size_t>(n * n), 0.0);
      for (int64_t i = 0; i < n; ++i) r[i * n + i] = 1.0;
      CHECK_OK(qs_hadamard_transform_f64(r.data(), n, n, t));  // row i = M e_i = column i of M
      double err = 0;
      for (int64_t i = 0; i < n; ++i) {
        for (int64_t j = 0; j <= i; ++j) {
          double s = 0;
          for (int64_t k = 0; k < n; ++k) s += r[i * n + k] * r[j * n + k];
          err = std::fmax(err, std::fabs(s - (i == j ? 1.0 : 0.0)));
        }
      }
      if (err > 1e-12) std::fprintf(stderr, "n %lld: |M^T M - I| = %g\n", (long long)n, err);
      CHECK(err <= 1e-12);
    }
  }
}

void test_norms() {
  Rng rng(11);
  for (int32_t m : kBases) {
    for (int64_t n = m; n <= 32768; n *= 2) {
      if (n < 32 && m == 1) continue;
      std::vector<double> x(static_cast<size_t>(n));
      for (double& v : x) v = rng.normal();
      std::vector<double> y(x);
      std::vector<float> yf(x.begin(), x.end());
      CHECK_OK(qs_hadamard_transform_f64(y.data(), 1, n, 0));
      CHECK_OK(qs_hadamard_transform_f32(yf.data(), 1, n, 1));
      double nx = 0, ny = 0, nf = 0;
      for (int64_t i = 0; i < n; ++i) {
        nx += x[i] * x[i];
        ny += y[i] * y[i];
        nf += double(yf[i]) * yf[i];
      }
      CHECK_NEAR(std::sqrt(ny / nx), 1.0, 1e-13);
      CHECK_NEAR(std::sqrt(nf / nx), 1.0, 1e-5);
      CHECK_OK(qs_hadamard_transform_f64(y.data(), 1, n, 1));  // M^T M x = x
      double e = 0;
      for (int64_t i = 0; i < n; ++i) e = std::fmax(e, std::fabs(y[i] - x[i]));
      CHECK(e <= 1e-12);
    }
  }
  // Large orders: 2^20 and 172 * 2^13.
  const int64_t large[] = {int64_t{1} << 20, int64_t{172} << 13};
  for (int64_t n : large) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = static_cast<float>(rng.normal());
    std::vector<float> y(x);
    const double t0 = now_s();
    CHECK_OK(qs_hadamard_transform_f32(y.data(), 1, n, 0));
    const double t1 = now_s();
    CHECK_OK(qs_hadamard_transform_f32(y.data(), 1, n, 1));
    double e = 0;
    for (int64_t i = 0; i < n; ++i) e = std::fmax(e, std::fabs(double(y[i]) - x[i]));
    std::printf("  n = %lld: one f32 transform %.1f ms, round-trip max err %.2g\n", (long long)n,
                (t1 - t0) * 1e3, e);
    CHECK(e <= 2e-5);
  }
}

// ---- RHT ----------------------------------------------------------------------------------------------

void test_rht() {
  Rng rng(3);
  const int64_t ns[] = {4096, 11008, 24};
  for (int64_t n : ns) {
    std::vector<float> s(static_cast<size_t>(n));
    CHECK_OK(qs_random_signs(n, 42, 1, s.data()));
    for (int axis = 0; axis < 2; ++axis) {
      const int64_t other = axis == 1 ? 3 : 37;  // 37 columns: chunk edges in the column kernel
      const int64_t rows = axis == 1 ? other : n, cols = axis == 1 ? n : other;
      std::vector<float> a(static_cast<size_t>(rows * cols));
      for (float& v : a) v = static_cast<float>(rng.normal());
      // Reference forward: each vector v -> M^T (s ⊙ v) via the plain row transform.
      std::vector<float> vecs(static_cast<size_t>(rows * cols));
      for (int64_t v = 0; v < other; ++v)
        for (int64_t i = 0; i < n; ++i)
          vecs[v * n + i] = s[i] * (axis == 1 ? a[v * cols + i] : a[i * cols + v]);
      CHECK_OK(qs_hadamard_transform_f32(vecs.data(), other, n, 1));
      std::vector<float> f(a);
      CHECK_OK(qs_rht_apply_f32(f.data(), rows, cols, axis, s.data(), 0));
      double ef = 0;
      for (int64_t v = 0; v < other; ++v)
        for (int64_t i = 0; i < n; ++i)
          ef = std::fmax(ef, std::fabs(vecs[v * n + i] - (axis == 1 ? f[v * cols + i] : f[i * cols + v])));
      CHECK(ef <= 1e-5);
      // Reference inverse on the forward result: s ⊙ (M v).
      for (int64_t v = 0; v < other; ++v)
        for (int64_t i = 0; i < n; ++i) vecs[v * n + i] = axis == 1 ? f[v * cols + i] : f[i * cols + v];
      CHECK_OK(qs_hadamard_transform_f32(vecs.data(), other, n, 0));
      std::vector<float> g(f);
      CHECK_OK(qs_rht_apply_f32(g.data(), rows, cols, axis, s.data(), 1));
      double ei = 0, er = 0;
      for (int64_t v = 0; v < other; ++v) {
        for (int64_t i = 0; i < n; ++i) {
          const int64_t k = axis == 1 ? v * cols + i : i * cols + v;
          ei = std::fmax(ei, std::fabs(s[i] * vecs[v * n + i] - g[k]));
          er = std::fmax(er, std::fabs(g[k] - a[k]));
        }
      }
      std::printf("  rht n = %lld axis %d: forward err %.2g, inverse err %.2g, round trip %.2g\n",
                  (long long)n, axis, ef, ei, er);
      CHECK(ei <= 1e-5);
      CHECK(er < 1e-5);
    }
  }
}

// ---- random signs -----------------------------------------------------------------------------------

uint64_t ref_mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void test_signs() {
  const int64_t n = 100000;
  std::vector<float> a(n), b(n), c(n), d(n), s0(n), s2(n);
  CHECK_OK(qs_random_signs(n, 1234, 1, a.data()));
  CHECK_OK(qs_random_signs(n, 1234, 1, b.data()));
  CHECK_OK(qs_random_signs(n, 1235, 1, c.data()));
  CHECK_OK(qs_random_signs(n, 1234, 2, d.data()));
  CHECK(a == b);
  CHECK(a != c);
  CHECK(a != d);
  int64_t plus = 0, agree_c = 0, agree_d = 0;
  bool pm = true;
  for (int64_t i = 0; i < n; ++i) {
    pm = pm && (a[i] == 1.0f || a[i] == -1.0f);
    plus += a[i] > 0;
    agree_c += a[i] == c[i];
    agree_d += a[i] == d[i];
  }
  CHECK(pm);
  // Balanced within 5 sigma (sigma = sqrt(n)/2 ~ 158); other seeds/streams uncorrelated.
  CHECK(std::llabs(plus - n / 2) < 800);
  CHECK(std::llabs(agree_c - n / 2) < 800);
  CHECK(std::llabs(agree_d - n / 2) < 800);
  // Seed 0, streams 1 and 2 (s_in / s_out of §1.4) are not shifted copies of each other.
  CHECK_OK(qs_random_signs(n, 0, 1, s0.data()));
  CHECK_OK(qs_random_signs(n, 0, 2, s2.data()));
  for (int shift = 0; shift < 4; ++shift) {
    int64_t agree = 0;
    for (int64_t i = 0; i + shift < n; ++i) agree += s2[i] == s0[i + shift];
    CHECK(std::llabs(agree - (n - shift) / 2) < 800);
    agree = 0;
    for (int64_t i = 0; i + shift < n; ++i) agree += s0[i] == s2[i + shift];
    CHECK(std::llabs(agree - (n - shift) / 2) < 800);
  }
  // The documented generator, re-derived.
  const uint64_t seeds[][2] = {{0, 0}, {0, 1}, {42, 1}, {42, 2}, {~0ULL, 7}, {1234, 1}};
  for (const auto& sd : seeds) {
    std::vector<float> got(257);
    CHECK_OK(qs_random_signs(257, sd[0], sd[1], got.data()));
    uint64_t state = ref_mix(sd[0] ^ ref_mix(sd[1] + 0x9E3779B97F4A7C15ULL));
    bool same = true;
    for (int i = 0; i < 257; ++i) {
      state += 0x9E3779B97F4A7C15ULL;
      same = same && got[i] == ((ref_mix(state) >> 63) ? -1.0f : 1.0f);
    }
    CHECK(same);
  }
  // Prefix property: the first k signs do not depend on n.
  std::vector<float> p(10);
  CHECK_OK(qs_random_signs(10, 1234, 1, p.data()));
  CHECK(std::memcmp(p.data(), a.data(), 10 * sizeof(float)) == 0);
  CHECK_OK(qs_random_signs(0, 1, 1, p.data()));
  CHECK_STATUS(qs_random_signs(-1, 1, 1, p.data()), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_random_signs(10, 1, 1, nullptr), QS_ERR_INVALID_ARGUMENT);
  std::printf("  signs: %lld of %lld positive\n", (long long)plus, (long long)n);
}

// ---- error cases --------------------------------------------------------------------------------------

void test_errors() {
  std::vector<float> x(4096, 1.0f);
  std::vector<double> xd(4096, 1.0);
  std::vector<float> s(4096, 1.0f);
  CHECK_OK(qs_hadamard_transform_f32(x.data(), 0, 64, 0));  // empty batch is fine
  CHECK(std::string(qs_last_error()).empty());
  CHECK_STATUS(qs_hadamard_transform_f32(nullptr, 1, 64, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("x") != std::string::npos);
  CHECK_STATUS(qs_hadamard_transform_f32(x.data(), 1, 0, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("n = 0") != std::string::npos);
  CHECK_STATUS(qs_hadamard_transform_f32(x.data(), 1, -64, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_transform_f32(x.data(), -1, 64, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("batch = -1") != std::string::npos);
  CHECK_STATUS(qs_hadamard_transform_f32(x.data(), 1, 64, 2), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("transpose = 2") != std::string::npos);
  CHECK_STATUS(qs_hadamard_transform_f32(x.data(), 1, 65, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_transform_f32(x.data(), INT64_MAX / 2, 1 << 20, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_transform_f64(nullptr, 1, 64, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_transform_f64(xd.data(), 1, 100, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_transform_f64(xd.data(), -3, 64, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_hadamard_transform_f64(xd.data(), 1, 64, -1), QS_ERR_INVALID_ARGUMENT);
  // RHT.
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 4, 64, 2, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("axis = 2") != std::string::npos);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 4, 64, 1, s.data(), 3), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 4, 100, 1, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("cols = 100") != std::string::npos);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 44, 64, 0, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("rows = 44") != std::string::npos);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), -1, 64, 1, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 64, -1, 0, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 0, 64, 0, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_rht_apply_f32(nullptr, 4, 64, 1, s.data(), 0), QS_ERR_INVALID_ARGUMENT);
  CHECK_STATUS(qs_rht_apply_f32(x.data(), 4, 64, 1, nullptr, 0), QS_ERR_INVALID_ARGUMENT);
  CHECK(std::string(qs_last_error()).find("signs") != std::string::npos);
  CHECK_OK(qs_rht_apply_f32(x.data(), 0, 64, 1, s.data(), 0));  // no vectors
  CHECK_OK(qs_rht_apply_f32(x.data(), 64, 0, 0, s.data(), 1));
  // NaN propagates (not checked).
  std::vector<float> nan(64, 0.0f);
  nan[3] = std::nanf("");
  CHECK_OK(qs_hadamard_transform_f32(nan.data(), 1, 64, 0));
  CHECK(std::isnan(nan[0]));
  CHECK(qs_hadamard_base_order(INT64_MAX) == 0);
  CHECK(qs::nearby_supported_orders(INT64_MAX).size() == 1);
}

// Informative throughput numbers.
void bench() {
  const int64_t n = 11008, batch = 64;
  std::vector<float> x(static_cast<size_t>(n * batch), 0.5f), s(n, 1.0f);
  double t0 = now_s();
  CHECK_OK(qs_hadamard_transform_f32(x.data(), batch, n, 0));
  double t1 = now_s();
  CHECK_OK(qs_rht_apply_f32(x.data(), n, batch, 0, s.data(), 0));
  double t2 = now_s();
  const int64_t n2 = 4096;
  std::vector<float> y(static_cast<size_t>(n2 * 256), 0.5f);
  double t3 = now_s();
  CHECK_OK(qs_hadamard_transform_f32(y.data(), 256, n2, 0));
  double t4 = now_s();
  CHECK_OK(qs_rht_apply_f32(y.data(), n2, 256, 0, s.data(), 0));
  double t5 = now_s();
  std::printf("  bench: 64 x %lld rows %.1f ms, columns %.1f ms; 256 x %lld rows %.1f ms, columns %.1f ms\n",
              (long long)n, (t1 - t0) * 1e3, (t2 - t1) * 1e3, (long long)n2, (t4 - t3) * 1e3, (t5 - t4) * 1e3);
}

}  // namespace

// The AVX2 and AVX-512 kernels (where the CPU has them) against the portable ones: bit-identical
// results for row and column transforms, both directions, float and double, every base.
void test_simd_vs_portable() {
  std::vector<int64_t> orders = {1, 2, 8, 64, 4096, 11008, 14336, 32768};
  for (int m : {12, 20, 28, 36, 52, 60, 108, 116, 124, 140, 156, 172})
    for (int64_t L : {1, 4, 32}) orders.push_back(m * L);
  uint64_t state = 99;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(state >> 11) / 9007199254740992.0 - 0.5;
  };
  int compared = 0;
  for (int64_t n : orders) {
    const int64_t batch = n <= 4096 ? 3 : 1, cols = 5;
    std::vector<float> x(batch * n), signs(n);
    std::vector<double> xd(batch * n);
    for (auto& v : x) v = static_cast<float>(next());
    for (auto& v : xd) v = next();
    for (auto& v : signs) v = next() < 0 ? -1.0f : 1.0f;
    std::vector<float> col(n * cols);
    for (auto& v : col) v = static_cast<float>(next());
    for (int32_t t : {0, 1}) {
      std::vector<float> a = x, ca = col;
      std::vector<double> ad = xd;
      CHECK_OK(qs_cpu_force_kernel(QS_KERNEL_SCALAR));
      CHECK_OK(qs_hadamard_transform_f32(a.data(), batch, n, t));
      CHECK_OK(qs_hadamard_transform_f64(ad.data(), batch, n, t));
      CHECK_OK(qs_rht_apply_f32(ca.data(), n, cols, 0, signs.data(), t));
      for (int32_t kernel : {QS_KERNEL_AVX2, QS_KERNEL_AVX512}) {
        if (qs_cpu_force_kernel(kernel) != QS_OK) continue;  // not on this CPU
        std::vector<float> b = x, cb = col;
        std::vector<double> bd = xd;
        CHECK_OK(qs_hadamard_transform_f32(b.data(), batch, n, t));
        CHECK_OK(qs_hadamard_transform_f64(bd.data(), batch, n, t));
        CHECK_OK(qs_rht_apply_f32(cb.data(), n, cols, 0, signs.data(), t));
        CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
        CHECK(std::memcmp(ad.data(), bd.data(), ad.size() * sizeof(double)) == 0);
        CHECK(std::memcmp(ca.data(), cb.data(), ca.size() * sizeof(float)) == 0);
        ++compared;
      }
      CHECK_OK(qs_cpu_force_kernel(QS_KERNEL_AUTO));
    }
  }
  CHECK_STATUS(qs_cpu_force_kernel(9), QS_ERR_INVALID_ARGUMENT);
  std::printf("simd vs portable: %d cases compared bit for bit\n", compared);
}

int main() {
  struct Step {
    const char* name;
    void (*fn)();
  };
  const Step steps[] = {{"threaded init", test_threaded_init}, {"bases", test_bases},
                        {"selection", test_selection},         {"tiny", test_tiny},
                        {"dense vs fast", test_dense_vs_fast}, {"orthogonality", test_orthogonality},
                        {"norms", test_norms},                 {"rht", test_rht},
                        {"signs", test_signs},                 {"errors", test_errors},
                        {"simd vs portable", test_simd_vs_portable},
                        {"bench", bench}};
  const double start = now_s();
  for (const Step& s : steps) {
    const double t0 = now_s();
    s.fn();
    std::printf("%-14s %.3f s\n", s.name, now_s() - t0);
  }
  std::printf("total %.3f s\n", now_s() - start);
  TEST_MAIN_END();
}
