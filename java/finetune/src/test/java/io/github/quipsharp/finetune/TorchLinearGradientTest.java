package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizedLinear;
import io.github.quipsharp.Quantizer;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.internal.SyntheticData;
import java.util.SplittableRandom;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The quantized layer's autograd gradients (sign vectors SU/SV, which carry the scale, and the
 * input) against central finite differences, in double precision; and its forward against the
 * native decode of the same stored parts.
 */
class TorchLinearGradientTest {
  static QuantizedGroup group(int bits, int rows, int cols, int members) {
    float[] w = SyntheticData.gaussian(rows, cols, 7);
    float[] h = SyntheticData.correlatedHessian(cols, 8);
    QuantConfig cfg = QuantConfig.builder().bits(bits).seed(3).build();
    try (QuantizedLinear q = Quantizer.quantize(w, rows, cols, h, cfg)) {
      float[] sv = q.signsOut();
      for (int i = 0; i < sv.length; i++) {
        sv[i] *= (float) q.scale();
      }
      float[] fuse = members == 1 ? new float[] {1f} : new float[] {0.7f, 1.3f};
      return new QuantizedGroup(0, members == 1 ? LinearGroup.O : LinearGroup.UP, rows, cols, cfg,
          q.codes(), q.signsIn(), sv, 1f, fuse);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void gradientsMatchFiniteDifferences(int bits) {
    // 40 x 72: both sides padded (§10.6); two members with their own fuse scales.
    int rows = 40;
    int cols = 72;
    QuantizedGroup g = group(bits, rows, cols, 2);
    TorchLinear lin = TorchLinear.quantized(g, new int[] {16, 24}, ScalarType.Double);
    lin.decode(ScalarType.Double);
    SplittableRandom r = new SplittableRandom(11);
    int batch = 3;
    double[] xv = gaussian(r, batch * cols);
    double[] wv = gaussian(r, batch * rows);
    Tensor x = Torch.ofDoubles(xv, batch, cols);
    x.set_requires_grad(true);
    Tensor weights = Torch.ofDoubles(wv, batch, rows);
    lin.su.set_requires_grad(true);
    lin.sv.set_requires_grad(true);
    Tensor loss = lin.forward(x).mul(weights).sum();
    loss.backward();
    double worst = 0;
    for (Tensor p : new Tensor[] {lin.su, lin.sv, x}) {
      double[] grad = Torch.doubles(p.grad());
      double[] v = Torch.doubles(p);
      double scale = 0;
      double err = 0;
      for (int i = 0; i < v.length; i++) {
        double eps = 1e-6;
        double up = loss(lin, p, v, i, v[i] + eps, x, weights);
        double down = loss(lin, p, v, i, v[i] - eps, x, weights);
        double fd = (up - down) / (2 * eps);
        err = Math.max(err, Math.abs(fd - grad[i]));
        scale = Math.max(scale, Math.abs(fd));
      }
      worst = Math.max(worst, err / scale);
    }
    lin.release();
    System.out.printf("%d-bit: autograd vs finite differences max rel error %.3g%n", bits, worst);
    assertTrue(worst < 1e-7, "gradient error " + worst);
  }

  static double[] gaussian(SplittableRandom r, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextGaussian();
    }
    return v;
  }

  private static double loss(TorchLinear lin, Tensor p, double[] base, int i, double value, Tensor x,
      Tensor weights) {
    double[] v = base.clone();
    v[i] = value;
    try (org.bytedeco.pytorch.NoGradGuard ng = new org.bytedeco.pytorch.NoGradGuard()) {
      Tensor saved = p.detach().clone();
      p.copy_(Torch.ofDoubles(v, base.length == p.numel() && p.dim() == 2
          ? new long[] {p.size(0), p.size(1)} : new long[] {p.numel()}));
      double out = lin.forward(x).mul(weights).sum().item_double();
      p.copy_(saved);
      return out;
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {2, 3, 4})
  void forwardMatchesNativeDecode(int bits) {
    int rows = 40;
    int cols = 72;
    QuantizedGroup g = group(bits, rows, cols, 2);
    float[] w;
    try (QuantizedLinear q = g.toLinear()) {
      w = q.decode(); // diag(sv) M W̃ Mᵀ diag(su), native
    }
    float[] rowFuse = g.rowFuse(new int[] {16, 24});
    TorchLinear lin = TorchLinear.quantized(g, new int[] {16, 24}, ScalarType.Double);
    lin.decode(ScalarType.Double);
    double[] x = gaussian(new SplittableRandom(5), cols);
    double[] got = Torch.doubles(lin.forward(Torch.ofDoubles(x, 1, cols)));
    lin.release();
    double err = 0;
    double scale = 0;
    for (int i = 0; i < rows; i++) {
      double ref = 0;
      for (int j = 0; j < cols; j++) {
        ref += (double) w[i * cols + j] * x[j];
      }
      ref *= rowFuse[i];
      err = Math.max(err, Math.abs(got[i] - ref));
      scale = Math.max(scale, Math.abs(ref));
    }
    System.out.printf("%d-bit: libtorch layer vs native decode max rel error %.3g%n", bits, err / scale);
    assertTrue(err / scale < 1e-5, "forward error " + err / scale);
  }
}
