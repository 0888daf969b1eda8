package io.github.quipsharp.finetune;

import java.util.stream.IntStream;

/** Calibration tokens cut into windows of ctx tokens, split into training and validation. */
record Windows(int[][] tokens, int[] train, int[] valid) {
  static Windows of(int[] calibration, int ctx, int available, FineTuneOptions opt) {
    int n = opt.windowCount(Math.min(available, calibration.length / ctx));
    int v = opt.validCount(n);
    int[][] w = new int[n][];
    for (int i = 0; i < n; i++) {
      w[i] = java.util.Arrays.copyOfRange(calibration, i * ctx, (i + 1) * ctx);
    }
    return new Windows(w, IntStream.range(0, n - v).toArray(), IntStream.range(n - v, n).toArray());
  }

  int ctx() {
    return tokens[0].length;
  }

  /** The token ids of some windows as an int64 [B, ctx] tensor, owned by the innermost scope. */
  org.bytedeco.pytorch.Tensor batch(int[] which) {
    int t = ctx();
    int[] flat = new int[which.length * t];
    for (int i = 0; i < which.length; i++) {
      System.arraycopy(tokens[which[i]], 0, flat, i * t, t);
    }
    return Torch.toScope(Torch.tokens(flat, which.length, t));
  }
}
