package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.quipsharp.internal.SyntheticData;
import org.junit.jupiter.api.Test;

/** packedCodes() against a direct Java transcription of the Qidxs layout of QUIPSHARP.md §8.4. */
class PackingTest {
  static long[] referencePackE8p(int[] codes, int m, int n, int wordsPerRow, int columnOffset) {
    // Flat array of m*n/32 words for one E8P stage, placed in a [m, wordsPerRow] view at column
    // offset `columnOffset` (RVQ4 keeps the stage-2 words in the second half of each view row).
    long[] flat = new long[m * n / 32];
    int blocks = n / 8;
    for (int r = 0; r < m; r++) {
      for (int k = 0; k < blocks; k++) {
        int code = codes[r * blocks + k] & 0xFFFF;
        int word = (((r / 16) * (n / 64) + k / 8) * 8 + (r % 16) / 2) * 4 + (k % 8) / 2;
        int q = (r % 2) + 2 * (k % 2);
        flat[word] |= (long) (code >>> 8) << (8 * q);
        for (int j = 0; j < 8; j++) {
          flat[word] |= (long) ((code >>> j) & 1) << (32 + 4 * j + q);
        }
      }
    }
    long[] view = new long[m * wordsPerRow];
    int stride = n / 32;
    for (int i = 0; i < flat.length; i++) {
      view[(i / stride) * wordsPerRow + columnOffset + i % stride] = flat[i];
    }
    return view;
  }

  static QuantizedLinear quantized(int bits, int rows, int cols) {
    float[] w = SyntheticData.gaussian(rows, cols, bits);
    return Quantizer.quantize(
        w, rows, cols, null, QuantConfig.builder().bits(bits).refinePasses(0).build());
  }

  @Test
  void e8p12MatchesTheSpecLayout() {
    try (QuantizedLinear q = quantized(2, 48, 192)) {
      assertArrayEquals(referencePackE8p(q.codes(), 48, 192, 192 / 32, 0), q.packedCodes());
    }
  }

  @Test
  void rvq4KeepsStageOneThenStageTwoWords() {
    int m = 32;
    int n = 128;
    try (QuantizedLinear q = quantized(4, m, n)) {
      int[] codes = q.codes();
      int[] stage1 = new int[codes.length];
      int[] stage2 = new int[codes.length];
      for (int i = 0; i < codes.length; i++) {
        stage1[i] = codes[i] >>> 16;
        stage2[i] = codes[i] & 0xFFFF;
      }
      long[] expected = referencePackE8p(stage1, m, n, n / 16, 0);
      long[] second = referencePackE8p(stage2, m, n, n / 16, n / 32);
      for (int i = 0; i < expected.length; i++) {
        expected[i] |= second[i];
      }
      assertArrayEquals(expected, q.packedCodes());
    }
  }

  @Test
  void rvq3AppendsE81bBytesPerRow() {
    int m = 16;
    int n = 128;
    try (QuantizedLinear q = quantized(3, m, n)) {
      int[] codes = q.codes();
      int[] stage1 = new int[codes.length];
      for (int i = 0; i < codes.length; i++) {
        stage1[i] = codes[i] >>> 16;
      }
      int wordsPerRow = 3 * n / 64;
      long[] expected = referencePackE8p(stage1, m, n, wordsPerRow, 0);
      for (int r = 0; r < m; r++) {
        for (int k = 0; k < n / 8; k++) {
          long index = codes[r * (n / 8) + k] & 0xFF;
          expected[r * wordsPerRow + n / 32 + k / 8] |= index << (8 * (k % 8));
        }
      }
      assertArrayEquals(expected, q.packedCodes());
    }
  }

  @Test
  void paddedShapesPackWithZeroCodesAndUnpackBack() {
    // 24 x 172: rows padded to 32 for the 16-row tiles, codes 176 wide padded to 192 columns.
    try (QuantizedLinear q = quantized(2, 24, 172)) {
      QuantShape s = q.shape();
      assertEquals(new QuantShape(24, 172, 24, 172, 176), s);
      assertEquals(32, s.packedRows());
      assertEquals(192, s.packedCols());
      int[] padded = new int[32 * 192 / 8];
      int[] codes = q.codes();
      for (int r = 0; r < 24; r++) {
        System.arraycopy(codes, r * 22, padded, r * 24, 22);
      }
      assertArrayEquals(referencePackE8p(padded, 32, 192, 192 / 32, 0), q.packedCodes());
      assertArrayEquals(codes, QuantizedLinear.unpackCodes(q.packedCodes(), s, q.config()));
    }
    for (int bits = 3; bits <= 4; bits++) {
      try (QuantizedLinear q = quantized(bits, 100, 60)) {
        assertArrayEquals(
            q.codes(), QuantizedLinear.unpackCodes(q.packedCodes(), q.shape(), q.config()));
      }
    }
  }
}
