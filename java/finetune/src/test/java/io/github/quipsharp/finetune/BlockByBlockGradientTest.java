package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.QuantizedCheckpoint;
import io.github.quipsharp.model.LlamaConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory-lean training pass ({@link TorchLlama#lossAndGradients}: one block decoded at a time,
 * recomputed for the backward pass) against one autograd graph over the whole model with every
 * block decoded (the way tuning ran before), and against central finite differences, in double
 * precision on a 3-layer synthetic 2-bit model; and bfloat16 storage of the decoded matrices
 * against fp32.
 */
class BlockByBlockGradientTest {
  static final int LAYERS = 3;
  static final LlamaConfig CONFIG = SyntheticCheckpoints.config(LAYERS);
  static final int BATCH = 2;
  static final int T = 12;

  @TempDir static Path dir;
  static Path checkpoint;

  @BeforeAll
  static void write() throws Exception {
    checkpoint = SyntheticCheckpoints.write(dir, CONFIG,
        SyntheticCheckpoints.tokens(CONFIG, 4 * 32, 3), 32)[1];
  }

  static Tensor tokens() {
    return Torch.tokens(SyntheticCheckpoints.tokens(CONFIG, BATCH * T, 5), BATCH, T);
  }

  static Tensor teacher(ScalarType type) {
    SplittableRandom r = new SplittableRandom(9);
    double[] v = new double[BATCH * T * CONFIG.vocabSize()];
    for (int i = 0; i < v.length; i++) {
      v[i] = 2 * r.nextGaussian();
    }
    return Torch.ofDoubles(v, BATCH, T, CONFIG.vocabSize()).to(type);
  }

  /** The loss and gradients with every block decoded and one graph over the model. */
  static double oneGraph(TorchLlama m, Tensor tokens, Tensor target) {
    for (TorchLlama.Block b : m.blocks) {
      b.decode(m.decodedType);
    }
    double v;
    try (PointerScope scope = new PointerScope()) {
      Tensor h = m.embedTokens(tokens);
      for (TorchLlama.Block b : m.blocks) {
        h = b.forward(h, m.rope());
      }
      Tensor loss = EndToEndTuner.softCrossEntropy(m.logits(h), target);
      v = loss.item_double();
      loss.backward();
    }
    for (TorchLlama.Block b : m.blocks) {
      b.release();
    }
    return v;
  }

  static double[] grads(List<TorchLlama.Param> params) {
    int n = 0;
    for (TorchLlama.Param p : params) {
      n += (int) p.tensor().numel();
    }
    double[] out = new double[n];
    int off = 0;
    for (TorchLlama.Param p : params) {
      double[] g = Torch.doubles(p.tensor().grad());
      System.arraycopy(g, 0, out, off, g.length);
      off += g.length;
      p.tensor().grad().zero_();
    }
    return out;
  }

  /** ‖a − b‖∞ / ‖b‖∞. */
  static double relError(double[] a, double[] b) {
    double num = 0;
    double den = 0;
    for (int i = 0; i < a.length; i++) {
      num = Math.max(num, Math.abs(a[i] - b[i]));
      den = Math.max(den, Math.abs(b[i]));
    }
    return num / den;
  }

  static List<TorchLlama.Param> trainable(TorchLlama m) {
    List<TorchLlama.Param> params = m.endToEndParams();
    for (TorchLlama.Param p : params) {
      p.tensor().set_requires_grad(true);
    }
    return params;
  }

  @Test
  void blockByBlockGradientsEqualOneGraphAndFiniteDifferences() {
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(checkpoint)) {
      TorchLlama m = TorchLlama.fromCheckpoint(in, ScalarType.Double, true);
      List<TorchLlama.Param> params = trainable(m);
      Tensor tokens = tokens();
      Tensor target = teacher(ScalarType.Double);
      double v1 = oneGraph(m, tokens, target);
      double[] g1 = grads(params);

      // Other tests in this JVM may hold decoded matrices of their own: count from what is alive.
      long before = DecodedMatrices.liveBytes();
      DecodedMatrices.resetPeak();
      double v2 = m.lossAndGradients(tokens, l -> EndToEndTuner.softCrossEntropy(l, target));
      double[] g2 = grads(params);
      double err = relError(g2, g1);
      System.out.printf("block by block vs one graph: loss %.15f / %.15f, gradients max rel "
          + "error %.3g; peak decoded %d bytes (one block %d)%n", v2, v1, err,
          DecodedMatrices.peakBytes() - before, SyntheticCheckpoints.blockBytes(CONFIG, 8));
      assertEquals(v1, v2, 1e-13 * Math.abs(v1));
      assertTrue(err < 1e-12, "gradient error " + err);
      assertEquals(0, DecodedMatrices.stillReferenced(), "a decoded matrix outlived its block");
      assertEquals(SyntheticCheckpoints.blockBytes(CONFIG, 8), DecodedMatrices.peakBytes() - before,
          "more than one block was decoded at a time");
      assertEquals(before, DecodedMatrices.liveBytes());
      // Control: released while a graph still holds it, a matrix is counted as still referenced.
      try (PointerScope scope = new PointerScope()) {
        TorchLlama.Block b = m.blocks[0];
        b.decode(m.decodedType);
        Tensor out = b.forward(m.embedTokens(tokens), m.rope());
        b.release();
        assertTrue(DecodedMatrices.stillReferenced() > 0, "a matrix held by a graph went unnoticed");
        out.sum().backward();
      }
      grads(params);

      // Central differences of the loss (forward only) for entries of every parameter, against
      // the largest gradient entry of that parameter (as TorchLinearGradientTest measures).
      double worst = 0;
      int offset = 0;
      SplittableRandom r = new SplittableRandom(13);
      for (TorchLlama.Param p : params) {
        int n = (int) p.tensor().numel();
        double scale = maxAbs(java.util.Arrays.copyOfRange(g2, offset, offset + n));
        for (int k = 0; k < 3; k++) {
          int i = r.nextInt(n);
          double fd = finiteDifference(m, p.tensor(), i, tokens, target);
          worst = Math.max(worst, Math.abs(fd - g2[offset + i]) / scale);
        }
        offset += n;
      }
      System.out.printf("block by block vs finite differences: max rel error %.3g over %d entries%n",
          worst, 3 * params.size());
      assertTrue(worst < 1e-7, "finite-difference error " + worst);
    }
  }

  static double maxAbs(double[] v) {
    double m = 0;
    for (double x : v) {
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  static double finiteDifference(TorchLlama m, Tensor p, int i, Tensor tokens, Tensor target) {
    double[] sides = new double[2];
    try (NoGradGuard ng = new NoGradGuard(); PointerScope scope = new PointerScope()) {
      Tensor flat = p.view(-1);
      double v = flat.get(i).item_double();
      // A step relative to the value (SV entries carry the scale, ~0.05), large enough that the
      // loss's rounding (1e-16 of ~4) stays far below the difference.
      double eps = 1e-4 * Math.max(Math.abs(v), 0.05);
      for (int s = 0; s < 2; s++) {
        flat.get(i).fill_(new org.bytedeco.pytorch.Scalar(v + (s == 0 ? eps : -eps)));
        sides[s] = EndToEndTuner.softCrossEntropy(m.forward(tokens), target).item_double();
      }
      flat.get(i).fill_(new org.bytedeco.pytorch.Scalar(v));
      return (sides[0] - sides[1]) / (2 * eps);
    }
  }

  @Test
  void bfloat16DecodedMatricesGiveTheFp32GradientsWithinBfloat16Rounding() {
    try (QuantizedCheckpoint.Contents in = QuantizedCheckpoint.open(checkpoint)) {
      TorchLlama m = TorchLlama.fromCheckpoint(in, ScalarType.Float, true);
      List<TorchLlama.Param> params = trainable(m);
      Tensor tokens = tokens();
      Tensor target = teacher(ScalarType.Float);
      m.lossAndGradients(tokens, l -> EndToEndTuner.softCrossEntropy(l, target));
      double[] fp32 = grads(params);
      m.decodedType = ScalarType.BFloat16;
      long before = DecodedMatrices.liveBytes();
      DecodedMatrices.resetPeak();
      m.lossAndGradients(tokens, l -> EndToEndTuner.softCrossEntropy(l, target));
      double[] bf16 = grads(params);
      double err = relError(bf16, fp32);
      System.out.printf("bf16 decoded matrices: gradients max rel error %.3g against fp32; peak "
          + "decoded %d bytes%n", err, DecodedMatrices.peakBytes() - before);
      assertEquals(SyntheticCheckpoints.blockBytes(CONFIG, 2), DecodedMatrices.peakBytes() - before);
      // bfloat16 keeps 8 significant bits (relative rounding 2^-9 = 0.2 %); the products round
      // both factors, the sums do not amplify it beyond a few times that.
      assertTrue(err > 0 && err < 0.02, "bf16 gradient error " + err);
    }
  }
}
