// The prepared CPU layer (qs_qlayer) for the other parts of the library that hold one (the model).
#pragma once

#include <memory>

#include "quipsharp/quipsharp.h"

namespace qs {

// A prepared layer from a description, validated in full (validate_qlinear_in_full); throws qs::Error.
std::unique_ptr<qs_qlayer> make_qlayer(const qs_qlinear_desc* desc);

}  // namespace qs

// unique_ptr<qs_qlayer> needs the complete type where it is destroyed: qs_qlayer_free does that.
template <>
struct std::default_delete<qs_qlayer> {
  void operator()(qs_qlayer* layer) const { qs_qlayer_free(layer); }
};
