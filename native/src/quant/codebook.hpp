// Composite vector quantizers over 8-vectors (QUIPSHARP.md §3, §4): E8P12 (id 7), E8P12RVQ4B
// (id 17) and E8P12RVQ3B (id 18), plus the 1-bit E81B table used as the RVQ3 residual stage.
//
// Everything works in codebook units: the caller has already divided the weights by Wscale
// (= rms / opt_scale), so stage 1 quantizes its input as is. Functions here assume validated input
// (finite values, non-null pointers, counts >= 0) except where they say they check; they are meant
// to be called per column block of m rows from BlockLDLQ.
#pragma once

#include <cstdint>

namespace qs {

constexpr int32_t kCodebookE8p12 = 7;
constexpr int32_t kCodebookE8p12Rvq4 = 17;
constexpr int32_t kCodebookE8p12Rvq3 = 18;

struct CodebookInfo {
  int32_t id;
  const char* name;        // as in checkpoints (§8.3)
  int32_t bits;            // per weight
  double opt_scale;        // default rho (§3.6, §4)
  double opt_resid_scale;  // default rho2; 0 for E8P12
};

// Throws QS_ERR_INVALID_ARGUMENT naming the id and listing the valid ones (7, 17, 18).
const CodebookInfo& codebook_info(int32_t id);
bool is_codebook_id(int32_t id);

// rho2 actually used: resid_scale if > 0, the codebook default if <= 0 (0 for E8P12, where it is
// unused). Throws on a non-finite resid_scale for a codebook that uses it.
double effective_resid_scale(int32_t id, double resid_scale);

// The E81B table (§4.3), 256 rows of 8 floats, row-major.
const float* e81b_table();
// Exact nearest E81B row (ties broken arbitrarily); `out` (nullable) receives the row.
uint8_t e81b_encode_one(const float* x, float* out);
void e81b_encode(const float* x, int64_t count, uint8_t* codes, float* out);

// Composite quantizer (§4.1) of `count` 8-vectors: codes[i] is the 16-bit code for E8P12 and
// (c1 << 16) | c2 for RVQ; `out` (nullable) gets the reconstruction q1 + q2 / rho2. Throws only for
// an invalid id or a non-finite resid_scale; x must be finite.
void codebook_quantize(int32_t id, double resid_scale, const float* x, int64_t count,
                       uint32_t* codes, float* out);
// Reconstruction of composite codes; bit-identical to what codebook_quantize writes to `out`. Bits
// outside the code's range are ignored here (validate_codes rejects them).
void codebook_decode(int32_t id, double resid_scale, const uint32_t* codes, int64_t count,
                     float* out);

// Throws QS_ERR_INVALID_ARGUMENT for a code outside the id's range (E8P12: > 0xFFFF; RVQ3: stage-2
// index > 255), naming `name`, the index and the value.
void validate_codes(int32_t id, const uint32_t* codes, int64_t count, const char* name);

}  // namespace qs
