/*
 * quipsharp native boundary (the only header JavaCPP parses).
 *
 * Plain C functions over raw pointers and sizes. Every function validates its arguments and returns a
 * status code (QS_OK on success); on failure a message naming the argument and value is available from
 * qs_last_error() on the same thread. No function aborts, exits or throws across this boundary.
 *
 * Section numbers (§) refer to shared/design/QUIPSHARP.md.
 */
#ifndef QUIPSHARP_H
#define QUIPSHARP_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define QS_API __declspec(dllexport)
#else
#define QS_API __attribute__((visibility("default")))
#endif

/* ---- status codes ---------------------------------------------------------------------------- */
#define QS_OK 0
#define QS_ERR_INVALID_ARGUMENT 1 /* wrong size, null pointer, unsupported dimension, bad id */
#define QS_ERR_NON_FINITE 2       /* NaN or Inf in an input */
#define QS_ERR_NOT_POSITIVE_DEFINITE 3
#define QS_ERR_OUT_OF_MEMORY 4        /* host memory */
#define QS_ERR_INTERNAL 5
/* The CUDA engine's statuses (quipsharp_cuda.h), here so that one table covers every entry point. */
#define QS_ERR_NO_CUDA_DEVICE 6       /* no driver, no device, or a build without the CUDA engine */
#define QS_ERR_DEVICE_OUT_OF_MEMORY 7 /* a device allocation failed */
#define QS_ERR_CUDA 8                 /* any other CUDA runtime failure (the message names it) */

/* Every function that builds an object is  int32_t qs_*_create(..., T** out):  on success *out is the
 * new object; on failure the status says why (with qs_last_error()) and *out is left untouched. */

/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
QS_API const char* qs_last_error(void);
QS_API const char* qs_version(void);

/* Threads used by every native kernel (one process-wide pool; concurrent callers do not
 * oversubscribe: while one call runs a parallel region, others run on their own thread). Default:
 * QUIPSHARP_NUM_THREADS, else the number of hardware threads. */
QS_API int32_t qs_set_num_threads(int32_t threads);
QS_API int32_t qs_get_num_threads(void);

/* ---- Hadamard (§2) --------------------------------------------------------------------------- */

/* Base order m_b of n per §2.2 (1 for powers of two), or 0 if n is not supported. */
QS_API int32_t qs_hadamard_base_order(int64_t n);
/* The unnormalized ±1 base matrix H_m of §2.3 (m in {1,12,20,28,36,52,60,108,116,124,140,156,172}),
 * m*m row-major. */
QS_API int32_t qs_hadamard_base_matrix(int32_t m, int8_t* out);
/* The dense orthogonal M_n = (H_mb ⊗ S_2^k)/sqrt(n), n*n row-major (n <= 8192). */
QS_API int32_t qs_hadamard_matrix(int64_t n, float* out);
/* In place, for each of the `batch` contiguous vectors of length n: x <- M_n x (transpose = 0) or
 * x <- M_n^T x (transpose = 1). Fast algorithm of §2.4. */
QS_API int32_t qs_hadamard_transform_f32(float* x, int64_t batch, int64_t n, int32_t transpose);
QS_API int32_t qs_hadamard_transform_f64(double* x, int64_t batch, int64_t n, int32_t transpose);

/* n random signs (+1/-1 as float) from (seed, stream); deterministic on every platform:
 *   mix64(z) = splitmix64's finalizer; state = mix64(seed ^ mix64(stream + 0x9E3779B97F4A7C15));
 *   for each i: state += 0x9E3779B97F4A7C15; out[i] = (mix64(state) >> 63) ? -1 : +1.
 * qs_quantize_matrix uses stream 1 for s_in and stream 2 for s_out; RandomizedHadamard uses 0. */
QS_API int32_t qs_random_signs(int64_t n, uint64_t seed, uint64_t stream, float* out);

/* Randomized Hadamard transform of each vector (length n) of a row-major rows*cols matrix.
 * axis = 1: the rows are the vectors (n = cols); axis = 0: the columns are (n = rows).
 * inverse = 0 (forward): v <- M_n^T (s ⊙ v);  inverse = 1: v <- s ⊙ (M_n v). */
QS_API int32_t qs_rht_apply_f32(float* a, int64_t rows, int64_t cols, int32_t axis,
                                const float* signs, int32_t inverse);

/* ---- Codebooks (§3, §4) ---------------------------------------------------------------------- */

/* Codebook ids, as in reference checkpoints (§8.3). */
#define QS_CODEBOOK_E8P12 7      /* 2 bits/weight, 16-bit code per 8 weights */
#define QS_CODEBOOK_E8P12RVQ4B 17 /* 4 bits: E8P12 + E8P12 residual, code = c1<<16 | c2 */
#define QS_CODEBOOK_E8P12RVQ3B 18 /* 3 bits: E8P12 + E81B residual,  code = c1<<16 | c2 (c2 < 256) */

/* The absolute-value table S (§3.2), 256*8 floats. */
QS_API int32_t qs_e8p_abs_table(float* out);
/* The packed table (§3.3), 256 words. */
QS_API int32_t qs_e8p_packed_table(int32_t* out);
/* Decode `count` 16-bit codes (§3.4) to count*8 floats. */
QS_API int32_t qs_e8p_decode(const uint16_t* codes, int64_t count, float* out);
/* Exact nearest codeword of the unscaled E8P12 codebook for each of `count` 8-vectors (§3.5).
 * `out` (nullable) receives the decoded codewords. Non-finite input is an error. */
QS_API int32_t qs_e8p_encode(const float* x, int64_t count, uint16_t* codes, float* out);
/* The 1-bit E81B table (§4.3), 256*8 floats. */
QS_API int32_t qs_e81b_table(float* out);
/* Exact nearest E81B row for each 8-vector; `out` nullable. */
QS_API int32_t qs_e81b_encode(const float* x, int64_t count, uint8_t* codes, float* out);

/* Bits per weight (2/3/4), default global scale rho (§3.6) and default residual scale rho2 (§4; 0 for
 * E8P12) of a codebook id. */
QS_API int32_t qs_codebook_info(int32_t codebook_id, int32_t* bits, double* opt_scale,
                                double* opt_resid_scale);
/* Composite quantizer in codebook units (§4.1): each 8-vector of x to its code; `out` (nullable)
 * gets the reconstruction. resid_scale <= 0 means the codebook default. */
QS_API int32_t qs_codebook_quantize(int32_t codebook_id, double resid_scale, const float* x,
                                    int64_t count, uint32_t* codes, float* out);
QS_API int32_t qs_codebook_decode(int32_t codebook_id, double resid_scale, const uint32_t* codes,
                                  int64_t count, float* out);

/* ---- Packing for the reference kernels (§8.4) ------------------------------------------------ */

/* E8P codes Q[r][k] (m rows, n/8 code columns, row-major, uint16) to m*n/32 64-bit words.
 * Requires m % 16 == 0 and n % 64 == 0. */
QS_API int32_t qs_pack_e8p(const uint16_t* codes, int64_t m, int64_t n, uint64_t* words);
QS_API int32_t qs_unpack_e8p(const uint64_t* words, int64_t m, int64_t n, uint16_t* codes);
/* Qidxs of a whole codebook (E8P12: [m, n/32]; RVQ4: [m, n/16]; RVQ3: [m, 3n/64]) from composite codes
 * (m x n/8, uint32). qs_packed_words gives the number of 64-bit words, or -1 (with qs_last_error())
 * for a bad id or shape. Codes out of range for the codebook are rejected. */
QS_API int64_t qs_packed_words(int32_t codebook_id, int64_t m, int64_t n);
QS_API int32_t qs_pack_codes(int32_t codebook_id, const uint32_t* codes, int64_t m, int64_t n,
                             uint64_t* words);
QS_API int32_t qs_unpack_codes(int32_t codebook_id, const uint64_t* words, int64_t m, int64_t n,
                               uint32_t* codes);

/* ---- LDL, BlockLDLQ, proxy loss (§1.3, §5) --------------------------------------------------- */

/* In place on an n*n symmetric matrix: H <- H / mean(diag H) + sigma * I (§1.3). */
QS_API int32_t qs_damp(double* h, int64_t n, double sigma);
/* g-block LDL of SPD H (n % 8 == 0): H = L' D L'^T (§5.1). lp: n*n unit block-lower-triangular;
 * d: n*8, the 8x8 diagonal blocks D_k stacked (rows 8k..8k+7). Fails with
 * QS_ERR_NOT_POSITIVE_DEFINITE if H is not positive definite. */
QS_API int32_t qs_block_ldl(const double* h, int64_t n, double* lp, double* d);

#define QS_ROUNDING_BLOCK_LDLQ 0
#define QS_ROUNDING_NEAREST 1

/* BlockLDLQ (§5.2) with `refine_passes` passes of §5.3, or nearest rounding of every block
 * (rounding = QS_ROUNDING_NEAREST). w: m*n row-major, already in codebook units; h: n*n damped SPD.
 * codes: m*(n/8); w_hat: m*n reconstruction in codebook units. */
QS_API int32_t qs_block_ldlq(const float* w, int64_t m, int64_t n, const double* h,
                             int32_t codebook_id, double resid_scale, int32_t rounding,
                             int32_t refine_passes, uint32_t* codes, float* w_hat);

/* tr((W - W_hat) H (W - W_hat)^T) in double (H float64, n*n); h = NULL means the identity. */
QS_API int32_t qs_proxy_loss(const float* w, const float* w_hat, int64_t m, int64_t n,
                             const double* h, double* loss);

/* ---- CPU inference kernels (§7.1 step 3) ---------------------------------------------------- */

/* Kernel families. Every kernel with instruction-set variants (the codebook and fp32/fp16 mat-vec,
 * attention, the Hadamard transform, the codebook decode, the GEMM and BlockLDLQ's update) runs the
 * family QS_KERNEL_AUTO stands for: the kernel qs_cpu_force_kernel set, else the widest this CPU has,
 * at most the one the environment variable QUIPSHARP_CPU_KERNEL names (auto, scalar, avx2 or avx512;
 * read once). The codebook and Hadamard kernels give the same bits on every family; the fp32/fp16
 * baselines, qs_attention and the GEMM differ from their scalar reference by float rounding. */
#define QS_KERNEL_AUTO 0   /* the fastest the CPU supports */
#define QS_KERNEL_SCALAR 1 /* portable reference */
#define QS_KERNEL_AVX2 2   /* x86-64 AVX2 (+FMA, F16C) */
#define QS_KERNEL_AVX512 3 /* AVX2 level + AVX-512 F/DQ/BW/VL/VBMI/VNNI + GFNI; AVX2 code for fp16/fp32 */

/* 1 if the kernel can run on this CPU, else 0. */
QS_API int32_t qs_cpu_kernel_available(int32_t kernel);
/* The kernel QS_KERNEL_AUTO runs now. */
QS_API int32_t qs_cpu_kernel_selected(void);
/* Makes QS_KERNEL_AUTO run `kernel` in every kernel family, process-wide (tests compare the families;
 * benchmarks run one); QS_KERNEL_AUTO restores the default (the widest under QUIPSHARP_CPU_KERNEL).
 * A kernel this CPU lacks is QS_ERR_INVALID_ARGUMENT. Not for use while other threads run kernels. */
QS_API int32_t qs_cpu_force_kernel(int32_t kernel);
/* The integer precision of the activation u in the codebook kernels below (process-wide; default 8,
 * or the environment variable QUIPSHARP_ACTIVATION_BITS=16): u is rounded to integers uq with
 * |uq| <= L = 127 (8 bits) or 16383 (16 bits), uq = round(u * L / max|u|). 16 bits halves the speed of
 * the AVX-512 kernels. Set: 8 or 16, else QS_ERR_INVALID_ARGUMENT. */
QS_API int32_t qs_set_activation_bits(int32_t bits);
QS_API int32_t qs_get_activation_bits(void);
/* z = W~ u for the E8P12 codes of an m x n matrix (row-major, n/8 uint16 codes per row). Exact integer
 * sums of 4*codeword times the rounded activation uq: every kernel returns the same bits; the
 * difference from a float dot product is at most max|u| / (2 L) per weight (L as above). */
QS_API int32_t qs_e8p_matvec(const uint16_t* codes, int64_t m, int64_t n, const float* u, float* z,
                             int32_t kernel);
/* The same for E81B indices (the 3-bit residual stage, §4.3), one uint8 per 8 weights. */
QS_API int32_t qs_e81b_matvec(const uint8_t* codes, int64_t m, int64_t n, const float* u, float* z,
                              int32_t kernel);
/* Baselines: y = W x for fp32 and fp16 (IEEE half, as uint16) weights, m x n row-major. */
QS_API int32_t qs_f32_matvec(const float* w, int64_t m, int64_t n, const float* x, float* y,
                             int32_t kernel);
QS_API int32_t qs_f16_matvec(const uint16_t* w, int64_t m, int64_t n, const float* x, float* y,
                             int32_t kernel);
QS_API int32_t qs_f32_to_f16(const float* x, int64_t count, uint16_t* out);
/* Attention of one token over a KV cache, as the inference engine runs it: for each of `heads` query
 * heads h, out_h = sum_p a_p v_p with a = softmax_p(scale * (q_h . k_p)) over p < positions. q and out
 * are heads x head_dim; key / value row p starts at keys / values + p * stride and holds kv_heads x
 * head_dim floats (stride >= kv_heads * head_dim); query head h reads cached head h / (heads /
 * kv_heads). The scalar kernel sums each score in double, the AVX2 one (also what QS_KERNEL_AVX512
 * runs) in float lanes; with S = max_p scale * sum_i |q_hi k_pi|, V = max |v| and eps = 2^-23, each
 * output is within 2 V (exp(2 d) - 1) + (positions + 8) eps V of the exact value, d = (head_dim / 8 +
 * 16) eps S (scalar: d = eps S). */
QS_API int32_t qs_attention(const float* q, int64_t heads, int64_t kv_heads, const float* keys,
                            const float* values, int64_t positions, int64_t head_dim, int64_t stride,
                            double scale, float* out, int32_t kernel);
/* The same over the cached rows first .. positions-1 only (a sliding window: 0 <= first < positions),
 * with the scores soft-capped when softcap > 0: s <- softcap * tanh(s / softcap) after the scale and
 * before the softmax (Gemma 2). qs_attention = first 0, softcap 0. The bound above holds over the
 * attended rows, with eps * softcap added to d for the cap's rounding (tanh does not grow an error). */
QS_API int32_t qs_attention_window(const float* q, int64_t heads, int64_t kv_heads, const float* keys,
                                   const float* values, int64_t first, int64_t positions,
                                   int64_t head_dim, int64_t stride, double scale, double softcap,
                                   float* out, int32_t kernel);

/* A quantized matrix as every function that reads one takes it (qs_quantize_matrix writes its parts;
 * the padded sizes are those of qs_qlinear_shape, below).
 * Its effective weight is the top-left rows x cols block of
 *   diag(s_out) M (wscale * W~[:, :rht_cols]) M^T diag(s_in)        (§1.4 step 7)
 * with W~ the decoded codes and the padded sizes of qs_qlinear_shape(rows, cols, use_rht). The
 * pointers are borrowed: a function that keeps the matrix (qs_qlayer_create, qs_model_set_quantized,
 * qs_cuda_layer_create) copies what it needs. */
typedef struct qs_qlinear_desc {
  int32_t codebook_id;   /* QS_CODEBOOK_* */
  double resid_scale;    /* rho2 of the residual stage (§4); <= 0: the codebook default */
  const uint32_t* codes; /* rht_rows * code_cols / 8 composite codes, row-major */
  int64_t rows;          /* true shape m x n */
  int64_t cols;
  const float* s_in;     /* rht_cols signs */
  const float* s_out;    /* rht_rows signs */
  double wscale;         /* the global scale (§1.4 step 5) */
  int32_t use_rht;       /* 1: incoherence processing; 0: identity transforms (signs still apply) */
} qs_qlinear_desc;

/* A quantized layer prepared for CPU inference: the composite codes split per stage for the integer
 * kernels, s_out with wscale folded in. Forward = §7.1: u = M_n^T (s_in ⊙ x), z = W~ u (qs_e8p_matvec /
 * qs_e81b_matvec per stage), y = (s_out wscale) ⊙ (M_m z). Differs from qs_qlinear_matvec only by the
 * kernels' activation rounding (qs_set_activation_bits); a second codebook stage is read in the
 * same pass on AVX-512. The matrix is described by a qs_qlinear_desc (above), validated in full
 * (codes in range, finite signs). */
typedef struct qs_qlayer qs_qlayer;
QS_API int32_t qs_qlayer_create(const qs_qlinear_desc* desc, qs_qlayer** out);
QS_API void qs_qlayer_free(qs_qlayer* layer);
/* Bytes of code storage the forward pass reads. */
QS_API int64_t qs_qlayer_weight_bytes(const qs_qlayer* layer);
/* y (batch x m) = layer(x (batch x n)). */
QS_API int32_t qs_qlayer_forward(const qs_qlayer* layer, const float* x, int64_t batch, float* y,
                                 int32_t kernel);

/* ---- Llama inference engine (CPU) ----------------------------------------------------------- */

/* Llama-family architecture: RMSNorm, RoPE, grouped-query attention with a KV cache, SwiGLU FFN.
 * The fields after norm_eps describe the other families (Mistral, Qwen 2/3, Gemma 1/2, Phi-3); all of
 * them zero is the Llama architecture. */
typedef struct qs_model_config {
  int32_t dim;               /* hidden size */
  int32_t hidden_dim;        /* FFN width */
  int32_t n_layers;
  int32_t n_heads;
  int32_t n_kv_heads;        /* divides n_heads */
  int32_t head_dim;          /* usually dim / n_heads */
  int32_t vocab_size;
  int32_t rope_interleaved;  /* 1: rotate pairs (2i, 2i+1) (llama2.c); 0: pairs (i, i + hd/2) (HF) */
  int32_t tied_embeddings;   /* 1: the output layer is the token embedding */
  double rope_theta;
  double norm_eps;
  /* ---- family extensions (0 = the Llama behaviour) ---- */
  int32_t activation;        /* QS_ACTIVATION_*: the FFN is w_down(act(w_gate x) * w_up x) */
  int32_t norm_unit_offset;  /* 1: every RMSNorm multiplies by (1 + w) instead of w (Gemma) */
  int32_t qk_norm;           /* 1: RMSNorm over each head of q and of k, weights [head_dim], after the
                                projection (and bias) and before RoPE (Qwen 3) */
  int32_t sandwich_norms;    /* 1: RMSNorm of the attention output and of the FFN output before each
                                residual add (QS_TENSOR_POST_ATTN_NORM / _POST_FFN_NORM; Gemma 2) */
  int32_t rotary_dim;        /* RoPE rotates the first rotary_dim entries of each head (pairs (i, i +
                                rotary_dim/2), or (2i, 2i+1) interleaved); the rest pass through
                                (partial_rotary_factor, Phi-3); 0 = head_dim */
  int32_t rope_type;         /* QS_ROPE_*: how the inverse frequencies are derived (qs_rope_frequencies) */
  double rope_factor;        /* linear, llama3, yarn: the context scaling factor (>= 1) */
  double rope_low_freq_factor;  /* llama3 */
  double rope_high_freq_factor; /* llama3 */
  double rope_original_max_positions; /* llama3, yarn: the pre-training context */
  double rope_attention_factor; /* yarn: multiplies cos and sin; 0 = transformers' default, from
                                   rope_factor and rope_mscale / rope_mscale_all_dim */
  double rope_beta_fast;     /* yarn: the ramp's rotation bounds; 0 = 32 */
  double rope_beta_slow;     /* yarn: 0 = 1 */
  double rope_mscale;        /* yarn: with rope_mscale_all_dim, the default attention factor; 0 = absent */
  double rope_mscale_all_dim;
  int32_t rope_no_truncate;  /* yarn: 1 = keep the correction range's bounds fractional */
  double embed_scale;        /* the embedding rows are multiplied by it (Gemma: sqrt(dim) rounded to
                                the model's dtype); 0 = 1 (no multiply) */
  double attn_scale;         /* the attention scores' scale; 0 = 1 / sqrt(head_dim) */
  double attn_softcap;       /* > 0: scores <- attn_softcap * tanh(scores / attn_softcap) (Gemma 2) */
  double final_softcap;      /* > 0: logits <- final_softcap * tanh(logits / final_softcap) */
} qs_model_config;

#define QS_ACTIVATION_SILU 0      /* x sigmoid(x) (SwiGLU) */
#define QS_ACTIVATION_GELU_TANH 1 /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (GeGLU) */
#define QS_ACTIVATION_GELU 2      /* 0.5 x (1 + erf(x / sqrt(2))) */

#define QS_ROPE_DEFAULT 0 /* inv_freq_i = rope_theta^(-2i / rotary_dim) */
#define QS_ROPE_LINEAR 1  /* default / rope_factor */
#define QS_ROPE_LLAMA3 2  /* Llama 3.1: low frequencies / factor, high kept, a smooth ramp between */
#define QS_ROPE_YARN 3    /* YaRN: ramp between interpolated and extrapolated frequencies, scaled cos/sin */

/* The RoPE table of a config: inv_freq (rotary_dim / 2 values, rotary_dim as in the config) and the
 * factor that multiplies cos and sin (1 except for YaRN), as transformers' modeling_rope_utils derives
 * them for the config's rope_type. */
QS_API int32_t qs_rope_frequencies(const qs_model_config* config, double* inv_freq,
                                   double* attention_scaling);

typedef struct qs_model qs_model;

#define QS_DTYPE_F32 0
#define QS_DTYPE_F16 1
#define QS_DTYPE_BF16 2

/* Tensor kinds; shapes row-major [out, in] as Hugging Face stores them. */
#define QS_TENSOR_EMBED 0      /* [vocab, dim] */
#define QS_TENSOR_FINAL_NORM 1 /* [dim] */
#define QS_TENSOR_LM_HEAD 2    /* [vocab, dim]; only when not tied */
#define QS_TENSOR_ATTN_NORM 3  /* per layer: [dim] */
#define QS_TENSOR_FFN_NORM 4   /* [dim] */
#define QS_TENSOR_WQ 5         /* [heads * hd, dim] */
#define QS_TENSOR_WK 6         /* [kv_heads * hd, dim] */
#define QS_TENSOR_WV 7         /* [kv_heads * hd, dim] */
#define QS_TENSOR_WO 8         /* [dim, heads * hd] */
#define QS_TENSOR_W_GATE 9     /* [hidden, dim] (llama2.c w1) */
#define QS_TENSOR_W_UP 10      /* [hidden, dim] (llama2.c w3) */
#define QS_TENSOR_W_DOWN 11    /* [dim, hidden] (llama2.c w2) */
/* Biases (optional: a bias left unset is zero), added to the member's output rows; for a quantized
 * group after its fuse scales. Norm-like vectors, kept in F32. */
#define QS_TENSOR_BQ 12        /* [heads * hd] */
#define QS_TENSOR_BK 13        /* [kv_heads * hd] */
#define QS_TENSOR_BV 14        /* [kv_heads * hd] */
#define QS_TENSOR_BO 15        /* [dim] */
#define QS_TENSOR_B_GATE 16    /* [hidden] */
#define QS_TENSOR_B_UP 17      /* [hidden] */
#define QS_TENSOR_B_DOWN 18    /* [dim] */
#define QS_TENSOR_Q_NORM 19    /* [hd]: qk_norm only */
#define QS_TENSOR_K_NORM 20    /* [hd]: qk_norm only */
#define QS_TENSOR_POST_ATTN_NORM 21 /* [dim]: sandwich_norms only (Gemma 2's post_attention_layernorm) */
#define QS_TENSOR_POST_FFN_NORM 22  /* [dim]: sandwich_norms only */

/* Linear groups that share an input (§1.2): q,k,v; o; up,gate (up rows first); down. */
#define QS_GROUP_QKV 0
#define QS_GROUP_O 1
#define QS_GROUP_UPGATE 2
#define QS_GROUP_DOWN 3

/* An empty model of this shape (all tensors unset) in *out. */
QS_API int32_t qs_model_create(const qs_model_config* config, qs_model** out);
QS_API void qs_model_free(qs_model* model);

/* Copies one tensor (count values of src_dtype) into the model, converted to store_dtype (F32 or
 * F16; norms and biases are always kept in F32; with norm_unit_offset a norm is kept as 1 + w). layer
 * is ignored for the global kinds. Rejects wrong counts and non-finite values (naming the tensor and
 * the index), and q/k norms or sandwich norms that the config does not use. */
QS_API int32_t qs_model_set_tensor(qs_model* model, int32_t kind, int32_t layer, int32_t src_dtype,
                                   const void* data, int64_t count, int32_t store_dtype);

/* Sets a quantized linear group (replacing its dense tensors): the group's stacked rows x cols matrix
 * as qs_quantize_matrix made it (desc->rows, desc->cols must be the group's shape), and fuse_scales,
 * one per member matrix (3 for QKV, 2 for UPGATE, 1 otherwise), that multiply each member's output
 * rows. The model keeps its own copy of everything. */
QS_API int32_t qs_model_set_quantized(qs_model* model, int32_t layer, int32_t group,
                                      const qs_qlinear_desc* desc, const float* fuse_scales,
                                      int32_t n_fuse);

/* Sliding-window attention for one layer: a token at position p attends to positions
 * max(0, p - window + 1) .. p (the last `window` positions, as transformers' sliding-window mask), in
 * prefill and over the KV cache alike; window = 0 (the default) attends to every earlier position. */
QS_API int32_t qs_model_set_attention_window(qs_model* model, int32_t layer, int32_t window);

/* Runs `count` tokens at positions start_pos .. start_pos+count-1 (causal attention over the KV
 * cache, which must hold positions 0 .. start_pos-1 from earlier calls; start_pos = 0 starts a new
 * sequence). logits: count x vocab when all_logits, else vocab (the last token's). One call at a time
 * per model. */
QS_API int32_t qs_model_forward(qs_model* model, const int32_t* tokens, int64_t count,
                                int64_t start_pos, float* logits, int32_t all_logits);

/* Layer by layer (the distributed Hessian collection of §1.2 runs one block at a time over many
 * windows). qs_model_embed: hidden (count x dim) = the embedding rows of the tokens, times embed_scale;
 * needs only the embedding. qs_model_layer_forward: hidden_out (count x dim) = block `layer` applied to the hidden
 * states hidden_in of one sequence at positions 0 .. count-1 (causal attention within it); needs only
 * that layer's tensors (the others may be unset), adds the layer's Hessians while collection covers
 * it, and gives the same values, bit for bit, as that block inside qs_model_forward from position 0.
 * hidden_in and hidden_out may be the same buffer. It overwrites the layer's KV cache: the next
 * qs_model_forward must start at position 0. */
QS_API int32_t qs_model_embed(qs_model* model, const int32_t* tokens, int64_t count, float* hidden);
QS_API int32_t qs_model_layer_forward(qs_model* model, int32_t layer, const float* hidden_in,
                                      int64_t count, float* hidden_out);

/* Hessian collection (§1.2): while active, every forward adds x x^T (double) of the inputs of each
 * group of layers [layer_begin, layer_end) to an accumulator, with the token count. */
QS_API int32_t qs_model_hessian_start(qs_model* model, int32_t layer_begin, int32_t layer_end);
/* The accumulated sum (n x n, n = the group's input width) and token count of one group. */
QS_API int32_t qs_model_hessian_read(const qs_model* model, int32_t layer, int32_t group,
                                     double* out, int64_t* tokens);
QS_API int32_t qs_model_hessian_stop(qs_model* model);
/* Input width of a group (dim, heads*hd, dim, hidden) or -1. */
QS_API int64_t qs_model_group_cols(const qs_model* model, int32_t group);

/* Bytes of weights that a forward pass reads (codes, dense weights, norms, embedding row excluded). */
QS_API int64_t qs_model_weight_bytes(const qs_model* model);
/* Of those, the bytes of the output layer (lm_head, or the embedding when tied). */
QS_API int64_t qs_model_head_bytes(const qs_model* model);

/* ---- The whole recipe for one matrix (§1.4, f = 1) ------------------------------------------- */

typedef struct qs_quant_params {
  int32_t codebook_id;         /* QS_CODEBOOK_* */
  int32_t rounding;            /* QS_ROUNDING_* */
  int32_t refine_passes;       /* §5.3; only with BlockLDLQ */
  int32_t use_rht;             /* 1: incoherence processing (§1.4 step 3); 0: identity */
  double damping;              /* sigma_reg of §1.3 */
  double scale_override;       /* rho; <= 0: codebook default */
  double resid_scale_override; /* rho2; <= 0: codebook default */
  uint64_t seed;               /* sign vectors: s_in = stream 1, s_out = stream 2 */
} qs_quant_params;

/* The padded internal shape of a quantized m x n matrix (§10.6): out[0] = rht_rows, out[1] = rht_cols
 * (with RHT: the dimension itself if it is a supported Hadamard order, else the smallest supported
 * order >= it that is a multiple of 8; without RHT: the dimension itself), out[2] = code_cols =
 * rht_cols rounded up to a multiple of 8 (zero columns appended after the transform).
 * Codes hold rht_rows * code_cols / 8 entries, s_in rht_cols, s_out rht_rows. */
QS_API int32_t qs_qlinear_shape(int64_t m, int64_t n, int32_t use_rht, int64_t* out);

/* What qs_quantize_matrix reports besides the parts. */
typedef struct qs_quant_result {
  double wscale;     /* the global scale of the quantized matrix */
  double proxy_loss; /* tr((W - W_eff) H (W - W_eff)^T), §1.1, H = h_sum / tokens; with row_scale
                        the rows of both W and W_eff are multiplied by it first */
  double proxy_norm; /* its normalizer tr(W H W^T) (same H, same row scale); proxy_loss / proxy_norm
                        is the relative proxy loss the reference logs (§5.4) */
} qs_quant_result;

/* Quantize W (m*n row-major, any m, n >= 1) for the inputs whose Hessian sum is h_sum (n*n row-major,
 * float64: sum of x x^T over `tokens` input vectors, tokens >= 1; H = h_sum / tokens is formed here in
 * float64) or, with h_sum = NULL, for H = identity (tokens ignored); padded as qs_qlinear_shape says.
 * Outputs: codes (rht_rows * code_cols / 8); s_in (rht_cols) and s_out (rht_rows) sign vectors (all +1
 * without RHT); *result: the global scale and the proxy loss of the effective weight (see
 * qs_qlinear_desc) with its normalizer, under the same H. row_scale (nullable, m values) says the
 * real scale of each row for the loss (W holds members divided by their RMS, §1.4 step 1). */
QS_API int32_t qs_quantize_matrix(const float* w, int64_t m, int64_t n, const double* h_sum,
                                  int64_t tokens, const float* row_scale,
                                  const qs_quant_params* params, uint32_t* codes, float* s_in,
                                  float* s_out, qs_quant_result* result);

/* Dense effective weight (rows*cols, the true shape) of a quantized matrix. */
QS_API int32_t qs_qlinear_decode(const qs_qlinear_desc* desc, float* out);
/* y = W_eff x for `batch` vectors x (batch*cols) -> y (batch*rows), decoding codes on the fly (§7.1);
 * the padded input entries are zero and the padded outputs are dropped. */
QS_API int32_t qs_qlinear_matvec(const qs_qlinear_desc* desc, const float* x, int64_t batch,
                                 float* y);

#ifdef __cplusplus
}
#endif

#endif /* QUIPSHARP_H */
