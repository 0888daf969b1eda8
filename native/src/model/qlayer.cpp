// A quantized layer prepared for CPU inference (§7.1): the composite codes split per stage for the
// integer kernels (E8P12 uint16 codes; RVQ4 a second uint16 array, RVQ3 a uint8 E81B array), the
// sign vectors with the global scale folded into s_out. E81B indices are kept in the kernels' order
// (qs::e81b_kernel_index).
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "quant/codebook.hpp"
#include "quant/qlinear.hpp"
#include "common/status.hpp"
#include "kernels/matvec.hpp"
#include "model/qlayer.hpp"

struct qs_qlayer {
  int32_t codebook_id;
  double inv_resid_scale;  // 1 / rho2 (0 for E8P12)
  qs::QShape shape;  // true and padded sizes (§10.6)
  int32_t use_rht;
  std::vector<uint16_t> stage1, stage2;
  std::vector<uint8_t> e81b;
  std::vector<float> s_in, s_out_scaled;
};

namespace qs {

std::unique_ptr<qs_qlayer> make_qlayer(const qs_qlinear_desc* desc) {
  const QShape shape = validate_qlinear_in_full(desc);
  const qs_qlinear_desc& d = *desc;
  const CodebookInfo& info = codebook_info(d.codebook_id);
  const int64_t count = shape.code_count();
  auto layer = std::make_unique<qs_qlayer>();
  layer->codebook_id = d.codebook_id;
  layer->inv_resid_scale =
      info.bits == 2 ? 0.0 : 1.0 / effective_resid_scale(d.codebook_id, d.resid_scale);
  layer->shape = shape;
  layer->use_rht = d.use_rht;
  layer->stage1.resize(count);
  if (info.bits == 4) layer->stage2.resize(count);
  if (info.bits == 3) layer->e81b.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    const uint32_t c = d.codes[i];
    if (info.bits == 2) {
      layer->stage1[i] = static_cast<uint16_t>(c);
    } else {
      layer->stage1[i] = static_cast<uint16_t>(c >> 16);
      if (info.bits == 4) layer->stage2[i] = static_cast<uint16_t>(c & 0xFFFF);
      else layer->e81b[i] = e81b_kernel_index(static_cast<uint8_t>(c & 0xFF));
    }
  }
  layer->s_in.assign(d.s_in, d.s_in + shape.rht_cols);
  layer->s_out_scaled.resize(shape.rht_rows);
  for (int64_t r = 0; r < shape.rht_rows; ++r)
    layer->s_out_scaled[r] = static_cast<float>(d.s_out[r] * d.wscale);
  return layer;
}

}  // namespace qs

extern "C" int32_t qs_qlayer_create(const qs_qlinear_desc* desc, qs_qlayer** out) {
  return qs::guard([&] {
    qs::require_not_null(out, "out");
    std::unique_ptr<qs_qlayer> layer = qs::make_qlayer(desc);
    *out = layer.release();
  });
}

extern "C" void qs_qlayer_free(qs_qlayer* layer) { delete layer; }

extern "C" int64_t qs_qlayer_weight_bytes(const qs_qlayer* layer) {
  if (layer == nullptr) return 0;
  return static_cast<int64_t>(layer->stage1.size() * 2 + layer->stage2.size() * 2 +
                              layer->e81b.size());
}

extern "C" int32_t qs_qlayer_forward(const qs_qlayer* layer, const float* x, int64_t batch,
                                     float* y, int32_t kernel) {
  return qs::guard([&] {
    qs::require_not_null(layer, "layer");
    qs::require_not_null(x, "x");
    qs::require_not_null(y, "y");
    qs::require(batch > 0, "batch = ", batch, " must be positive");
    const qs::QShape& shape = layer->shape;
    const int64_t m = shape.rows, mr = shape.rht_rows, nc = shape.code_cols;
    qs::require(batch <= std::numeric_limits<int64_t>::max() / shape.cols, "batch = ", batch, " is too large");
    qs::require_finite(x, batch * shape.cols, "x");
    // u = M_n^T (s_in ⊙ x), zero-padded (§10.6); then per vector z = W~ u per stage and
    // y = (s_out * wscale) ⊙ (M_m z).
    const std::vector<float> u_all = qs::input_transform(shape, x, batch, layer->s_in.data(), layer->use_rht);
    const int32_t k = qs::resolve_kernel(kernel);
    const qs::StageCodes codes{layer->stage1.data(),
                               layer->stage2.empty() ? nullptr : layer->stage2.data(),
                               layer->e81b.empty() ? nullptr : layer->e81b.data(),
                               static_cast<float>(layer->inv_resid_scale)};
    std::vector<float> z(static_cast<size_t>(mr));
    for (int64_t b = 0; b < batch; ++b) {
      const float* u = &u_all[b * nc];
      qs::stages_matvec(codes, mr, nc, u, z.data(), k);
      if (layer->use_rht) {
        qs::check(qs_rht_apply_f32(z.data(), 1, mr, 1, layer->s_out_scaled.data(), 1));
      } else {
        for (int64_t r = 0; r < mr; ++r) z[r] *= layer->s_out_scaled[r];
      }
      std::copy(z.begin(), z.begin() + m, y + b * m);
    }
  });
}
