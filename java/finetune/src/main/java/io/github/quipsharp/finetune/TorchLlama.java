package io.github.quipsharp.finetune;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.FamilyOptions;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.WeightSpec;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch;

/**
 * A model of any supported family built from libtorch ops, with autograd: the same forward pass as
 * the native engine (the Llama block with the family's options, {@link FamilyOptions}: RMSNorm,
 * by 1 + w for Gemma; embeddings times Gemma's scale; q/k/v, o and MLP biases added after each
 * group's output; Qwen 3's per-head q/k norms before RoPE; RoPE from the engine's table
 * ({@link LlamaModel#ropeTable}: linear, llama3 and YaRN scalings, YaRN's attention factor, partial
 * rotary dimensions) in the config's convention; causal grouped-query attention with the family's
 * score scale, soft-cap and per-layer sliding window; SwiGLU or GeGLU; Gemma 2's post-attention and
 * post-FFN norms; tied or separate head and the final soft-cap), over batches of windows that each
 * start at position 0. Linear groups are dense or quantized ({@link TorchLinear}). Nothing is
 * trainable until a caller marks parameters ({@link #endToEndParams}, {@link Block#params}); the
 * biases are never trained.
 *
 * <p>Quantized blocks are decoded one at a time: {@link #forward} decodes each block for its
 * step and drops it, and {@link #lossAndGradients} trains with two passes (a forward pass without
 * a graph that keeps each block's input, then block by block from the last a second forward with
 * a graph and its backward), so that at most one block's decoded matrices exist at any time. The
 * JavaCPP preset cannot define libtorch autograd functions in Java (only its one built-in
 * {@code FunctionCrossMapLRN2d} instance), so this recomputation is written out here.
 */
final class TorchLlama {
  /** A trainable tensor, its checkpoint name and whether it is a sign vector (own learning rate). */
  record Param(String name, Tensor tensor, boolean sign) {}

  final LlamaConfig config;
  final ScalarType type;
  /** The type the decoded fixed matrices are held in (the model's type, or bfloat16). */
  ScalarType decodedType;
  final Tensor embed;
  final Tensor finalNorm;
  /** The separate head, or null while it is tied to the embedding. */
  Tensor lmHead;
  final Block[] blocks;
  private final Rope rope;

  private TorchLlama(LlamaConfig config, ScalarType type, Tensor embed, Tensor finalNorm,
      Tensor lmHead, Block[] blocks) {
    this.config = config;
    this.type = type;
    this.embed = embed;
    this.finalNorm = finalNorm;
    this.lmHead = lmHead;
    this.blocks = blocks;
    this.rope = new Rope(config, type);
    this.decodedType = type;
  }

  /** The fp model of a Hugging Face folder or llama2.c file. */
  static TorchLlama fromSource(ModelSource src, ScalarType type) {
    LlamaConfig c = src.config();
    Block[] blocks = new Block[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      blocks[l] = Block.fromSource(src, l, type);
    }
    return new TorchLlama(c, type, Torch.of(src.tensor("model.embed_tokens.weight"), type),
        Torch.of(src.tensor("model.norm.weight"), type),
        c.tiedEmbeddings() ? null : Torch.of(src.tensor("lm_head.weight"), type), blocks);
  }

  /** A quantized checkpoint whose groups (codes included) are held in memory, decoded per block. */
  static TorchLlama fromCheckpoint(QuantizedCheckpoint.Contents in, ScalarType type) {
    return fromCheckpoint(in, type, false);
  }

  /**
   * A quantized checkpoint; with {@code streamed} the codes are not held but read from
   * {@code in} (which must stay open) at every decode, so memory does not grow with the layers.
   */
  static TorchLlama fromCheckpoint(QuantizedCheckpoint.Contents in, ScalarType type, boolean streamed) {
    LlamaConfig c = in.config();
    Map<String, float[]> dense = new HashMap<>();
    for (WeightSpec s : WeightSpec.all(c)) {
      if (!s.role().isLinear()) {
        dense.put(s.name(), in.denseWeight(s));
      }
    }
    Block[] blocks = new Block[c.layers()];
    for (int l = 0; l < c.layers(); l++) {
      TorchLinear[] g = new TorchLinear[4];
      for (LinearGroup lg : LinearGroup.values()) {
        QuantizedGroup q = CoreInternals.group(in, l, lg);
        int layer = l;
        g[lg.ordinal()] = streamed
            ? TorchLinear.streamed(q, () -> CoreInternals.group(in, layer, lg), lg.memberRows(c), type)
            : TorchLinear.quantized(q, c, type);
      }
      EnumMap<WeightSpec.Role, Tensor> norms = new EnumMap<>(WeightSpec.Role.class);
      EnumMap<WeightSpec.Role, Tensor> biases = new EnumMap<>(WeightSpec.Role.class);
      for (WeightSpec s : Block.vectorSpecs(c, l)) {
        (s.role().isNorm() ? norms : biases).put(s.role(), Torch.of(dense.get(s.name()), type, s.shape()));
      }
      blocks[l] = new Block(c, l, norms, biases, g);
    }
    long[] vocabByDim = {c.vocabSize(), c.dim()};
    return new TorchLlama(c, type, Torch.of(dense.get("model.embed_tokens.weight"), type, vocabByDim),
        Torch.of(dense.get("model.norm.weight"), type, c.dim()),
        c.tiedEmbeddings() ? null : Torch.of(dense.get("lm_head.weight"), type, vocabByDim), blocks);
  }

  /** Hidden states entering block 0: [B, T, dim] for tokens [B, T]. */
  Tensor embedTokens(Tensor tokens) {
    return embedTokens(config, embed, tokens);
  }

  /**
   * The embedding rows of {@code tokens} times the family's embedding scale (Gemma: the engine's
   * float of it, which the config already rounds to the source model's dtype as transformers does).
   */
  static Tensor embedTokens(LlamaConfig c, Tensor embed, Tensor tokens) {
    Tensor x = torch.embedding(embed, tokens);
    double scale = c.options().embedScale();
    return scale > 0 ? x.mul(new Scalar((double) (float) scale)) : x;
  }

  /**
   * Logits [B, T, vocab] for tokens [B, T] (int64), without gradients; each quantized block is
   * decoded for its step only.
   */
  Tensor forward(Tensor tokens) {
    try (NoGradGuard ng = new NoGradGuard()) {
      Tensor h = embedTokens(tokens);
      for (Block b : blocks) {
        h = b.forwardDecoded(h, rope, decodedType);
      }
      return logits(h);
    }
  }

  /**
   * {@code loss(logits(tokens))}, with its gradients accumulated into every parameter that
   * requires them, holding one block's decoded matrices at a time: a forward pass without a graph
   * keeps the input of each block ([B, T, dim] each), the head's graph gives the gradient of the
   * last hidden state, and each block from the last recomputes its forward with a graph and
   * passes the gradient of its input on. The gradients equal those of one graph over the whole
   * model up to the order of floating-point sums. When the loss is not finite no gradient is
   * computed.
   */
  double lossAndGradients(Tensor tokens, java.util.function.Function<Tensor, Tensor> loss) {
    Tensor[] inputs = new Tensor[blocks.length];
    Tensor h;
    try (NoGradGuard ng = new NoGradGuard()) {
      h = embedTokens(tokens);
      for (int l = 0; l < blocks.length; l++) {
        inputs[l] = h;
        h = blocks[l].forwardDecoded(h, rope, decodedType);
      }
    }
    Tensor top = h.detach();
    top.requires_grad_(true);
    Tensor l = loss.apply(logits(top));
    double value = l.item_double();
    if (!Double.isFinite(value)) {
      return value;
    }
    l.backward();
    Tensor grad = top.grad().detach(); // grad() is a reference into top; detach() owns a handle
    for (int b = blocks.length - 1; b >= 0; b--) {
      grad = blocks[b].backwardDecoded(inputs[b], grad, rope, decodedType, b > 0);
    }
    return value;
  }

  Tensor logits(Tensor h) {
    return logits(config, h, finalNorm, lmHead != null ? lmHead : embed);
  }

  /**
   * The logits of the last hidden states {@code h}: the final norm, the head, and the family's
   * final soft-cap c·tanh(z / c) (Gemma 2).
   */
  static Tensor logits(LlamaConfig c, Tensor h, Tensor finalNorm, Tensor head) {
    Tensor z = norm(c, h, finalNorm).matmul(head.t());
    return softcap(z, c.options().finalSoftcap());
  }

  /** c·tanh(z / c), or z when c is 0. */
  static Tensor softcap(Tensor z, double c) {
    return c > 0 ? z.div(new Scalar(c)).tanh().mul(new Scalar(c)) : z;
  }

  /** The family's RMSNorm: by w, or by 1 + w for Gemma (w is the stored, trained weight). */
  static Tensor norm(LlamaConfig c, Tensor x, Tensor w) {
    return rmsNorm(x, c.options().normUnitOffset() ? w.add(new Scalar(1.0)) : w, c.normEps());
  }

  Rope rope() {
    return rope;
  }

  /**
   * End-to-end fine-tuning's parameters (§6.3): every SU/SV, every RMSNorm weight (the family's
   * extra norms included) and the head, untied from the (frozen) embedding by a copy when the
   * model ties them. Biases stay fixed.
   */
  List<Param> endToEndParams() {
    List<Param> out = new ArrayList<>();
    for (Block b : blocks) {
      String p = "model.layers." + b.layer + ".";
      for (TorchLinear g : b.groups) {
        if (!g.isQuantized()) {
          throw new IllegalStateException("end-to-end tuning needs a quantized model");
        }
        out.add(new Param(p + g.group.checkpointName() + ".SU", g.su, true));
        out.add(new Param(p + g.group.checkpointName() + ".SV", g.sv, true));
      }
      for (WeightSpec s : Block.vectorSpecs(config, b.layer)) {
        if (s.role().isNorm()) { // by the family's file names (Gemma 2's FFN norm differs)
          out.add(new Param(s.name(), b.norm(s.role()), false));
        }
      }
    }
    out.add(new Param("model.norm.weight", finalNorm, false));
    if (lmHead == null) {
      lmHead = embed.clone();
    }
    out.add(new Param("lm_head.weight", lmHead, false));
    return out;
  }

  /** x ⊙ rsqrt(mean(x²) + eps) ⊙ w over the last dimension. */
  static Tensor rmsNorm(Tensor x, Tensor w, double eps) {
    return x.mul(Torch.meanLast(x.square()).add(new org.bytedeco.pytorch.Scalar(eps)).rsqrt()).mul(w);
  }

  /** One transformer block. */
  static final class Block {
    final LlamaConfig config;
    final int layer;
    /** The block's norm weights by role (trainable; raw w for Gemma's 1 + w). */
    private final EnumMap<WeightSpec.Role, Tensor> norms;
    /** The block's biases by role (fixed). */
    private final EnumMap<WeightSpec.Role, Tensor> biases;
    final TorchLinear[] groups;

    /**
     * A block from its norms and biases (exactly the ones {@link #vectorSpecs} lists for the
     * layer) and its four groups.
     */
    Block(LlamaConfig config, int layer, EnumMap<WeightSpec.Role, Tensor> norms,
        EnumMap<WeightSpec.Role, Tensor> biases, TorchLinear[] groups) {
      EnumMap<WeightSpec.Role, Tensor> all = new EnumMap<>(norms);
      all.putAll(biases);
      java.util.Set<WeightSpec.Role> expected = java.util.EnumSet.noneOf(WeightSpec.Role.class);
      for (WeightSpec s : vectorSpecs(config, layer)) {
        expected.add(s.role());
      }
      if (!all.keySet().equals(expected)) {
        throw new IllegalArgumentException("layer " + layer + " of " + config.architecture()
            + " needs the norms and biases " + expected + ", got " + all.keySet());
      }
      this.config = config;
      this.layer = layer;
      this.norms = new EnumMap<>(norms);
      this.biases = new EnumMap<>(biases);
      this.groups = groups;
    }

    /** The norm and bias weights of a layer of {@code c}, by the family's {@link WeightSpec}s. */
    static List<WeightSpec> vectorSpecs(LlamaConfig c, int layer) {
      List<WeightSpec> out = new ArrayList<>();
      for (WeightSpec s : WeightSpec.all(c)) {
        if (s.layer() == layer && (s.role().isNorm() || s.role().isBias())) {
          out.add(s);
        }
      }
      return out;
    }

    /** A norm weight of the block (it must have it). */
    Tensor norm(WeightSpec.Role role) {
      Tensor t = norms.get(role);
      if (t == null) {
        throw new IllegalStateException("layer " + layer + " has no " + role);
      }
      return t;
    }

    static Block fromSource(ModelSource src, int layer, ScalarType type) {
      LlamaConfig c = src.config();
      String p = "model.layers." + layer + ".";
      TorchLinear[] g = new TorchLinear[4];
      for (LinearGroup lg : LinearGroup.values()) {
        String[] m = lg.members();
        Tensor w;
        if (m.length == 1) {
          w = Torch.of(src.tensor(p + m[0] + ".weight"), type);
        } else {
          Tensor[] ts = new Tensor[m.length];
          for (int i = 0; i < m.length; i++) {
            ts[i] = Torch.of(src.tensor(p + m[i] + ".weight"), type);
          }
          w = Torch.owned(() -> torch.cat(new TensorVector(ts), 0)); // owned like Torch.of's
          for (Tensor t : ts) {
            t.releaseReference();
          }
        }
        g[lg.ordinal()] = TorchLinear.dense(lg, w);
      }
      EnumMap<WeightSpec.Role, Tensor> norms = new EnumMap<>(WeightSpec.Role.class);
      EnumMap<WeightSpec.Role, Tensor> biases = new EnumMap<>(WeightSpec.Role.class);
      for (WeightSpec s : vectorSpecs(c, layer)) {
        (s.role().isNorm() ? norms : biases).put(s.role(), Torch.of(src.tensor(s.name()), type));
      }
      return new Block(c, layer, norms, biases, g);
    }

    /** The block of a layer in the middle of blockwise quantization. */
    static Block fromState(LayerState s, ScalarType type) {
      LlamaConfig c = s.config();
      TorchLinear[] g = new TorchLinear[4];
      for (LinearGroup lg : LinearGroup.values()) {
        g[lg.ordinal()] = s.isQuantized(lg) ? TorchLinear.quantized(s.quantized(lg), c, type)
            : TorchLinear.dense(lg, lg.rows(c), lg.cols(c), s.denseWeight(lg), type);
      }
      EnumMap<WeightSpec.Role, Tensor> norms = new EnumMap<>(WeightSpec.Role.class);
      EnumMap<WeightSpec.Role, Tensor> biases = new EnumMap<>(WeightSpec.Role.class);
      for (WeightSpec v : s.vectorSpecs()) {
        if (v.role().isNorm()) {
          norms.put(v.role(), Torch.of(s.norm(v.role()), type, v.shape()));
        } else {
          biases.put(v.role(), Torch.of(s.bias(v.role()), type, v.shape()));
        }
      }
      return new Block(c, s.layer(), norms, biases, g);
    }

    /**
     * Blockwise fine-tuning's parameters (§6.2): SU/SV of the quantized groups, the weights of the
     * others, every norm of the block (the family's extra ones included; biases stay fixed).
     */
    List<Param> params() {
      List<Param> out = new ArrayList<>();
      for (TorchLinear g : groups) {
        if (g.isQuantized()) {
          out.add(new Param(g.group.key() + ".SU", g.su, true));
          out.add(new Param(g.group.key() + ".SV", g.sv, true));
        } else {
          out.add(new Param(g.group.key() + ".weight", g.weight, false));
        }
      }
      for (Map.Entry<WeightSpec.Role, Tensor> n : norms.entrySet()) { // attn_norm, ffn_norm, ...
        out.add(new Param(n.getKey().name().toLowerCase(java.util.Locale.ROOT), n.getValue(), false));
      }
      return out;
    }

    /** Writes the tuned values back into the quantizer's state. */
    void writeBack(LayerState s) {
      for (TorchLinear g : groups) {
        if (g.isQuantized()) {
          var q = g.storedNow();
          s.setSigns(g.group, q.su(), q.sv());
        } else {
          s.setDenseWeight(g.group, Torch.floats(g.weight));
        }
      }
      for (Map.Entry<WeightSpec.Role, Tensor> n : norms.entrySet()) {
        s.setNorm(n.getKey(), Torch.floats(n.getValue()));
      }
    }

    /**
     * Frees the block's tensors now (weights, norms, sign vectors) rather than at a garbage
     * collection: for blocks made for one use (an fp block of the teacher pass, a blockwise
     * tuning), whose weights are a whole layer.
     */
    void free() {
      release();
      for (TorchLinear g : groups) {
        g.free();
      }
      for (Tensor t : norms.values()) {
        t.releaseReference();
      }
      for (Tensor t : biases.values()) {
        t.releaseReference();
      }
    }

    /** Decodes the fixed matrices of the quantized groups (see {@link TorchLinear#decode}). */
    void decode(ScalarType decodedType) {
      for (TorchLinear g : groups) {
        g.decode(decodedType);
      }
    }

    /** Drops the decoded matrices. */
    void release() {
      for (TorchLinear g : groups) {
        g.release();
      }
    }

    /**
     * {@link #forward} with the quantized groups decoded for this call only (the block stays
     * decoded if it was before); every temporary of the call is freed when it returns.
     */
    Tensor forwardDecoded(Tensor h, Rope rope, ScalarType decodedType) {
      boolean wasDecoded = isDecoded();
      decode(decodedType);
      try {
        return Torch.scoped(() -> forward(h, rope));
      } finally {
        if (!wasDecoded) {
          release();
        }
      }
    }

    /**
     * The backward pass of the block for the input {@code x} and the gradient {@code gradOut} of
     * its output: recomputes the forward with a graph (decoding for this call), accumulates the
     * parameters' gradients and returns the gradient of {@code x} (null unless {@code inputGrad}).
     */
    Tensor backwardDecoded(Tensor x, Tensor gradOut, Rope rope, ScalarType decodedType,
        boolean inputGrad) {
      boolean wasDecoded = isDecoded();
      decode(decodedType);
      try {
        Tensor g = Torch.scoped(() -> {
          Tensor in = x.detach();
          in.requires_grad_(inputGrad);
          Tensor out = forward(in, rope);
          torch.backward(new TensorVector(out), new TensorVector(gradOut),
              new org.bytedeco.pytorch.BoolOptional(false), false, new TensorVector());
          // grad() refers into `in`, which goes with this scope: detach() holds its own handle.
          return inputGrad ? in.grad().detach() : gradOut;
        });
        return inputGrad ? g : null;
      } finally {
        if (!wasDecoded) {
          release();
        }
      }
    }

    boolean isDecoded() {
      for (TorchLinear g : groups) {
        if (g.isQuantized() && !g.isDecoded()) {
          return false;
        }
      }
      return true;
    }

    /** h [B, T, dim] → the block's output [B, T, dim]; quantized groups must be decoded. */
    Tensor forward(Tensor h, Rope rope) {
      LlamaConfig c = config;
      FamilyOptions o = c.options();
      long b = h.size(0);
      long t = h.size(1);
      int hd = c.headDim();
      Tensor x = TorchLlama.norm(c, h, norm(WeightSpec.Role.ATTN_NORM));
      Tensor qkv = groups[LinearGroup.QKV.ordinal()].forward(x);
      // Biases come after the group's output (its fuse scales included), as in the engine.
      Tensor q = biased(qkv.narrow(2, 0, c.qDim()), WeightSpec.Role.BQ).reshape(b, t, c.heads(), hd);
      Tensor k = biased(qkv.narrow(2, c.qDim(), c.kvDim()), WeightSpec.Role.BK)
          .reshape(b, t, c.kvHeads(), hd);
      Tensor v = biased(qkv.narrow(2, c.qDim() + c.kvDim(), c.kvDim()), WeightSpec.Role.BV)
          .reshape(b, t, c.kvHeads(), hd);
      if (o.qkNorm()) { // Qwen 3: RMSNorm over each head, before RoPE
        q = TorchLlama.norm(c, q, norm(WeightSpec.Role.Q_NORM));
        k = TorchLlama.norm(c, k, norm(WeightSpec.Role.K_NORM));
      }
      q = rope.apply(q, t).transpose(1, 2);
      k = rope.apply(k, t).transpose(1, 2);
      v = v.transpose(1, 2);
      int rep = c.heads() / c.kvHeads();
      if (rep > 1) {
        k = k.repeat_interleave(rep, new LongOptional(1), new LongOptional());
        v = v.repeat_interleave(rep, new LongOptional(1), new LongOptional());
      }
      Tensor scores = q.matmul(k.transpose(2, 3)).mul(new Scalar(o.attentionScale(hd)));
      scores = softcap(scores, o.attentionSoftcap()).add(rope.causalMask(t, o.windowOf(layer)));
      Tensor att = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(b, t, c.qDim());
      Tensor a = biased(groups[LinearGroup.O.ordinal()].forward(att), WeightSpec.Role.BO);
      if (o.sandwichNorms()) { // Gemma 2: the attention output is normalized before the residual
        a = TorchLlama.norm(c, a, norm(WeightSpec.Role.POST_ATTN_NORM));
      }
      h = h.add(a);
      x = TorchLlama.norm(c, h, norm(WeightSpec.Role.FFN_NORM));
      Tensor ug = groups[LinearGroup.UP.ordinal()].forward(x);
      Tensor up = biased(ug.narrow(2, 0, c.hiddenDim()), WeightSpec.Role.B_UP);
      Tensor gate = biased(ug.narrow(2, c.hiddenDim(), c.hiddenDim()), WeightSpec.Role.B_GATE);
      Tensor f = biased(groups[LinearGroup.DOWN.ordinal()].forward(activation(gate).mul(up)),
          WeightSpec.Role.B_DOWN);
      if (o.sandwichNorms()) {
        f = TorchLlama.norm(c, f, norm(WeightSpec.Role.POST_FFN_NORM));
      }
      return h.add(f);
    }

    /** x plus the block's bias of this role, or x when the family has none. */
    private Tensor biased(Tensor x, WeightSpec.Role role) {
      Tensor bias = biases.get(role);
      return bias == null ? x : x.add(bias);
    }

    /** The FFN gate's activation: SiLU, tanh-approximated GELU (Gemma) or exact GELU. */
    private Tensor activation(Tensor gate) {
      return switch (config.options().activation()) {
        case SILU -> torch.silu(gate);
        case GELU_TANH -> torch.gelu(gate, "tanh");
        case GELU -> torch.gelu(gate, "none");
      };
    }
  }

  /**
   * Rotary position embedding as {@code x·C + (x R)·S}: R is the signed permutation that pairs
   * coordinates (2i, 2i+1) when interleaved (llama2.c) or (i, i + r/2) (Hugging Face) among the
   * first r = rotaryDim of each head (the rest pass through: C = 1, S = 0 there), C and S the
   * cosines and sines of position·inv_freq[i] times the attention factor, with inv_freq and the
   * factor from the engine's table ({@link LlamaModel#ropeTable}: default, linear, llama3, YaRN),
   * computed in double as the engine does. Also the attention masks: causal, within a sliding
   * window where the layer has one.
   */
  static final class Rope {
    private final LlamaConfig c;
    private final ScalarType type;
    private final Tensor r;
    private final double[] invFreq;
    private final double attentionScaling;
    private long cached = -1;
    private Tensor cos;
    private Tensor sin;
    /** [cached, cached] masks by window (0: none), made on first use. */
    private final Map<Integer, Tensor> masks = new HashMap<>();

    Rope(LlamaConfig c, ScalarType type) {
      this.c = c;
      this.type = type;
      LlamaModel.RopeTable table = LlamaModel.ropeTable(c);
      this.invFreq = table.inverseFrequencies();
      this.attentionScaling = table.attentionScaling();
      int hd = c.headDim();
      int half = invFreq.length;
      float[] m = new float[hd * hd];
      for (int i = 0; i < half; i++) {
        int a = first(i);
        int bb = second(i);
        m[bb * hd + a] = -1; // rot[a] = -x[b]
        m[a * hd + bb] = 1; // rot[b] = x[a]
      }
      this.r = Torch.of(m, type, hd, hd);
    }

    private int first(int i) {
      return c.ropeInterleaved() ? 2 * i : i;
    }

    private int second(int i) {
      return c.ropeInterleaved() ? 2 * i + 1 : i + invFreq.length;
    }

    synchronized void prepare(long t) {
      if (t <= cached) {
        return;
      }
      int hd = c.headDim();
      float[] cs = new float[(int) t * hd];
      float[] sn = new float[(int) t * hd];
      java.util.Arrays.fill(cs, 1f); // the pass-through dimensions of a partial rotary
      for (int p = 0; p < t; p++) {
        for (int i = 0; i < invFreq.length; i++) {
          double angle = p * invFreq[i];
          float co = (float) (Math.cos(angle) * attentionScaling);
          float si = (float) (Math.sin(angle) * attentionScaling);
          cs[p * hd + first(i)] = co;
          cs[p * hd + second(i)] = co;
          sn[p * hd + first(i)] = si;
          sn[p * hd + second(i)] = si;
        }
      }
      // Views made from the old tables (by the callers' narrow) keep their own references.
      for (Tensor old : masks.values()) {
        old.releaseReference();
      }
      masks.clear();
      if (cos != null) {
        cos.releaseReference();
        sin.releaseReference();
      }
      cos = Torch.of(cs, type, t, 1, hd);
      sin = Torch.of(sn, type, t, 1, hd);
      cached = t;
    }

    /** x [B, T, heads, hd] at positions 0..T-1. */
    Tensor apply(Tensor x, long t) {
      prepare(t);
      Tensor co = cos.narrow(0, 0, t);
      Tensor si = sin.narrow(0, 0, t);
      return x.mul(co).add(x.matmul(r).mul(si));
    }

    /** 0 on and below the diagonal, -inf above: [T, T]. */
    Tensor causalMask(long t) {
      return causalMask(t, 0);
    }

    /**
     * [T, T]: 0 where query p sees key j, -inf elsewhere: j ≤ p, and with a window w > 0 also
     * j > p − w (the last w positions, as the engine and transformers' sliding-window mask).
     */
    synchronized Tensor causalMask(long t, int window) {
      prepare(t);
      Tensor m = masks.computeIfAbsent(window, w -> {
        int n = (int) cached;
        float[] mk = new float[n * n];
        for (int p = 0; p < n; p++) {
          for (int j = 0; j < n; j++) {
            if (j > p || (w > 0 && j <= p - w)) {
              mk[p * n + j] = Float.NEGATIVE_INFINITY;
            }
          }
        }
        return Torch.of(mk, type, n, n);
      });
      return m.narrow(0, 0, t).narrow(1, 0, t);
    }
  }
}
