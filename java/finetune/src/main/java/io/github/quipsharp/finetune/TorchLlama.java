package io.github.quipsharp.finetune;

import io.github.quipsharp.LayerState;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.QuantizedGroup;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.model.WeightSpec;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * A Llama-family model built from libtorch ops, with autograd: the same forward pass as the
 * native engine (RMSNorm, RoPE in the config's convention, causal grouped-query attention, SwiGLU,
 * tied or separate head), over batches of windows that each start at position 0. Linear groups
 * are dense or quantized ({@link TorchLinear}). Nothing is trainable until a caller marks
 * parameters ({@link #endToEndParams}, {@link Block#params}).
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
        QuantizedGroup q = in.group(l, lg);
        int layer = l;
        g[lg.ordinal()] = streamed
            ? TorchLinear.streamed(q, () -> in.group(layer, lg), lg.memberRows(c), type)
            : TorchLinear.quantized(q, c, type);
      }
      String p = "model.layers." + l + ".";
      blocks[l] = new Block(c, l, Torch.of(dense.get(p + "input_layernorm.weight"), type, c.dim()),
          Torch.of(dense.get(p + "post_attention_layernorm.weight"), type, c.dim()), g);
    }
    long[] vocabByDim = {c.vocabSize(), c.dim()};
    return new TorchLlama(c, type, Torch.of(dense.get("model.embed_tokens.weight"), type, vocabByDim),
        Torch.of(dense.get("model.norm.weight"), type, c.dim()),
        c.tiedEmbeddings() ? null : Torch.of(dense.get("lm_head.weight"), type, vocabByDim), blocks);
  }

  /** Hidden states entering block 0: [B, T, dim] for tokens [B, T]. */
  Tensor embedTokens(Tensor tokens) {
    return torch.embedding(embed, tokens);
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
    Tensor x = rmsNorm(h, finalNorm, config.normEps());
    return x.matmul((lmHead != null ? lmHead : embed).t());
  }

  Rope rope() {
    return rope;
  }

  /**
   * End-to-end fine-tuning's parameters (§6.3): every SU/SV, every RMSNorm weight and the head,
   * untied from the (frozen) embedding by a copy when the model ties them.
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
      out.add(new Param(p + "input_layernorm.weight", b.attnNorm, false));
      out.add(new Param(p + "post_attention_layernorm.weight", b.ffnNorm, false));
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
    final Tensor attnNorm;
    final Tensor ffnNorm;
    final TorchLinear[] groups;

    Block(LlamaConfig config, int layer, Tensor attnNorm, Tensor ffnNorm, TorchLinear[] groups) {
      config.requirePlainLlama("the libtorch model"); // no biases, extra norms, windows (yet)
      this.config = config;
      this.layer = layer;
      this.attnNorm = attnNorm;
      this.ffnNorm = ffnNorm;
      this.groups = groups;
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
      return new Block(c, layer, Torch.of(src.tensor(p + "input_layernorm.weight"), type),
          Torch.of(src.tensor(p + "post_attention_layernorm.weight"), type), g);
    }

    /** The block of a layer in the middle of blockwise quantization. */
    static Block fromState(LayerState s, ScalarType type) {
      LlamaConfig c = s.config();
      TorchLinear[] g = new TorchLinear[4];
      for (LinearGroup lg : LinearGroup.values()) {
        g[lg.ordinal()] = s.isQuantized(lg) ? TorchLinear.quantized(s.quantized(lg), c, type)
            : TorchLinear.dense(lg, lg.rows(c), lg.cols(c), s.denseWeight(lg), type);
      }
      return new Block(c, s.layer(), Torch.of(s.attnNorm(), type, c.dim()),
          Torch.of(s.ffnNorm(), type, c.dim()), g);
    }

    /**
     * Blockwise fine-tuning's parameters (§6.2): SU/SV of the quantized groups, the weights of the
     * others, both norms.
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
      out.add(new Param("attn_norm", attnNorm, false));
      out.add(new Param("ffn_norm", ffnNorm, false));
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
      s.setNorms(Torch.floats(attnNorm), Torch.floats(ffnNorm));
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
      attnNorm.releaseReference();
      ffnNorm.releaseReference();
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
      long b = h.size(0);
      long t = h.size(1);
      int hd = c.headDim();
      Tensor x = rmsNorm(h, attnNorm, c.normEps());
      Tensor qkv = groups[LinearGroup.QKV.ordinal()].forward(x);
      Tensor q = qkv.narrow(2, 0, c.qDim()).reshape(b, t, c.heads(), hd);
      Tensor k = qkv.narrow(2, c.qDim(), c.kvDim()).reshape(b, t, c.kvHeads(), hd);
      Tensor v = qkv.narrow(2, c.qDim() + c.kvDim(), c.kvDim()).reshape(b, t, c.kvHeads(), hd);
      q = rope.apply(q, t).transpose(1, 2);
      k = rope.apply(k, t).transpose(1, 2);
      v = v.transpose(1, 2);
      int rep = c.heads() / c.kvHeads();
      if (rep > 1) {
        k = k.repeat_interleave(rep, new LongOptional(1), new LongOptional());
        v = v.repeat_interleave(rep, new LongOptional(1), new LongOptional());
      }
      Tensor scores = q.matmul(k.transpose(2, 3)).mul(new org.bytedeco.pytorch.Scalar(1.0 / Math.sqrt(hd)))
          .add(rope.causalMask(t));
      Tensor att = scores.softmax(-1).matmul(v).transpose(1, 2).reshape(b, t, c.qDim());
      h = h.add(groups[LinearGroup.O.ordinal()].forward(att));
      x = rmsNorm(h, ffnNorm, c.normEps());
      Tensor ug = groups[LinearGroup.UP.ordinal()].forward(x);
      Tensor up = ug.narrow(2, 0, c.hiddenDim());
      Tensor gate = ug.narrow(2, c.hiddenDim(), c.hiddenDim());
      return h.add(groups[LinearGroup.DOWN.ordinal()].forward(torch.silu(gate).mul(up)));
    }
  }

  /**
   * Rotary position embedding as {@code x·C + (x R)·S}: R is the signed permutation that pairs
   * coordinates (2i, 2i+1) when interleaved (llama2.c) or (i, i+hd/2) (Hugging Face), C and S the
   * cosines and sines of position·θ^(-2i/hd) per coordinate, computed in double as the engine does.
   */
  static final class Rope {
    private final LlamaConfig c;
    private final ScalarType type;
    private final Tensor r;
    private long cached = -1;
    private Tensor cos;
    private Tensor sin;
    private Tensor mask;

    Rope(LlamaConfig c, ScalarType type) {
      this.c = c;
      this.type = type;
      int hd = c.headDim();
      int half = hd / 2;
      float[] m = new float[hd * hd];
      for (int i = 0; i < half; i++) {
        int a = c.ropeInterleaved() ? 2 * i : i;
        int bb = c.ropeInterleaved() ? 2 * i + 1 : i + half;
        m[bb * hd + a] = -1; // rot[a] = -x[b]
        m[a * hd + bb] = 1; // rot[b] = x[a]
      }
      this.r = Torch.of(m, type, hd, hd);
    }

    synchronized void prepare(long t) {
      if (t <= cached) {
        return;
      }
      int hd = c.headDim();
      int half = hd / 2;
      float[] cs = new float[(int) t * hd];
      float[] sn = new float[(int) t * hd];
      float[] mk = new float[(int) (t * t)];
      double[] invFreq = new double[half];
      for (int i = 0; i < half; i++) {
        invFreq[i] = 1.0 / Math.pow(c.ropeTheta(), (double) (2 * i) / hd);
      }
      for (int p = 0; p < t; p++) {
        for (int i = 0; i < half; i++) {
          double angle = p * invFreq[i];
          float co = (float) Math.cos(angle);
          float si = (float) Math.sin(angle);
          int a = c.ropeInterleaved() ? 2 * i : i;
          int bb = c.ropeInterleaved() ? 2 * i + 1 : i + half;
          cs[p * hd + a] = co;
          cs[p * hd + bb] = co;
          sn[p * hd + a] = si;
          sn[p * hd + bb] = si;
        }
        for (int q = p + 1; q < t; q++) {
          mk[(int) (p * t + q)] = Float.NEGATIVE_INFINITY;
        }
      }
      cos = Torch.of(cs, type, t, 1, hd);
      sin = Torch.of(sn, type, t, 1, hd);
      mask = Torch.of(mk, type, t, t);
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
      prepare(t);
      return mask.narrow(0, 0, t).narrow(1, 0, t);
    }
  }
}
