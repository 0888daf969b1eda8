package io.github.quipsharp.safetensors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Checks {@link HalfFloat} against references computed independently in double precision: the
 * binary16 value formula for decoding, and {@link Math#rint} (ties to even) at the right ulp for
 * encoding.
 */
class HalfFloatTest {

  /** The value of binary16 pattern {@code h} from its definition, or NaN. */
  private static double referenceHalf(int h) {
    int sign = (h >>> 15) & 1;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    double magnitude;
    if (exp == 0x1f) {
      magnitude = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
    } else if (exp == 0) {
      magnitude = Math.scalb((double) mant, -24);
    } else {
      magnitude = Math.scalb((double) (1024 + mant), exp - 25);
    }
    return sign == 1 ? -magnitude : magnitude;
  }

  /** Positive finite binary16 values to their bit patterns, built from the reference formula. */
  private static final Map<Double, Integer> HALF_BITS = new HashMap<>();

  static {
    for (int h = 0; h < 0x7c00; h++) {
      HALF_BITS.put(referenceHalf(h), h);
    }
  }

  /** The binary16 nearest to non-NaN {@code x}, ties to even, by scaling to the ulp and rint. */
  private static int referenceFromFloat(float x) {
    int sign = (Float.floatToRawIntBits(x) >>> 16) & 0x8000;
    double abs = Math.abs((double) x);
    if (abs >= 65520) {
      return sign | 0x7c00;
    }
    if (abs == 0) {
      return sign;
    }
    int e = Math.max(Math.getExponent(abs), -14);
    double ulp = Math.scalb(1.0, e - 10);
    double rounded = Math.rint(abs / ulp) * ulp;
    Integer bits = HALF_BITS.get(rounded);
    if (bits == null) {
      throw new AssertionError("no half for " + rounded + " from " + x);
    }
    return sign | bits;
  }

  @Test
  void toFloatMatchesTheDefinitionForAll65536Patterns() {
    for (int h = 0; h < 0x10000; h++) {
      float f = HalfFloat.toFloat((short) h);
      double ref = referenceHalf(h);
      if (Double.isNaN(ref)) {
        assertTrue(Float.isNaN(f), "0x" + Integer.toHexString(h));
        // Sign and payload move to the top of the float mantissa.
        int expected = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
        assertEquals(expected, Float.floatToRawIntBits(f), "0x" + Integer.toHexString(h));
      } else {
        assertEquals(
            Float.floatToRawIntBits((float) ref),
            Float.floatToRawIntBits(f),
            "0x" + Integer.toHexString(h));
      }
    }
  }

  @Test
  void everyHalfSurvivesARoundTripThroughFloatBitForBit() {
    for (int h = 0; h < 0x10000; h++) {
      assertEquals(
          h,
          HalfFloat.fromFloat(HalfFloat.toFloat((short) h)) & 0xffff,
          "0x" + Integer.toHexString(h));
    }
  }

  @Test
  void midpointsRoundToEvenAndNeighboursToTheNearerHalf() {
    for (int sign : new int[] {0, 0x8000}) {
      for (int h = 0; h < 0x7c00; h++) {
        double a = referenceHalf(h);
        double b = h == 0x7bff ? 65536 : referenceHalf(h + 1); // 65536 encodes as infinity
        float mid = (float) ((a + b) / 2); // 12 significant bits: exact in float
        assertEquals((a + b) / 2, mid, 0.0);
        int even = (h & 1) == 0 ? h : h + 1;
        float s = sign == 0 ? 1 : -1;
        String what = "between 0x" + Integer.toHexString(h) + " and the next";
        assertEquals(sign | even, HalfFloat.fromFloat(s * mid) & 0xffff, what);
        assertEquals(sign | h, HalfFloat.fromFloat(s * Math.nextDown(mid)) & 0xffff, what);
        assertEquals(sign | (h + 1), HalfFloat.fromFloat(s * Math.nextUp(mid)) & 0xffff, what);
      }
    }
  }

  @Test
  void fromFloatMatchesTheReferenceOnRandomFloats() {
    SplittableRandom random = new SplittableRandom(1);
    for (int i = 0; i < 2_000_000; i++) {
      // Half of the samples uniform over all bit patterns, half over the binary16 range.
      float x =
          i % 2 == 0
              ? Float.intBitsToFloat(random.nextInt())
              : (float) Math.scalb(random.nextDouble(-2, 2), random.nextInt(-27, 17));
      if (Float.isNaN(x)) {
        continue;
      }
      assertEquals(referenceFromFloat(x), HalfFloat.fromFloat(x) & 0xffff, "x = " + x);
    }
  }

  @Test
  void fromFloatSpecialValues() {
    assertEquals(0x3c00, HalfFloat.fromFloat(1.0f));
    assertEquals(0xc000, HalfFloat.fromFloat(-2.0f) & 0xffff);
    assertEquals(0x7bff, HalfFloat.fromFloat(65504f));
    assertEquals(0x7bff, HalfFloat.fromFloat(Math.nextDown(65520f)));
    assertEquals(0x7c00, HalfFloat.fromFloat(65520f));
    assertEquals(0x7c00, HalfFloat.fromFloat(Float.MAX_VALUE));
    assertEquals(0x7c00, HalfFloat.fromFloat(Float.POSITIVE_INFINITY));
    assertEquals(0xfc00, HalfFloat.fromFloat(Float.NEGATIVE_INFINITY) & 0xffff);
    assertEquals(0x0001, HalfFloat.fromFloat(0x1p-24f)); // smallest subnormal
    assertEquals(0x0000, HalfFloat.fromFloat(0x1p-25f)); // tie between 0 and 2^-24: even 0
    assertEquals(0x0001, HalfFloat.fromFloat(Math.nextUp(0x1p-25f)));
    assertEquals(0x0400, HalfFloat.fromFloat(0x1p-14f)); // smallest normal
    assertEquals(0x03ff, HalfFloat.fromFloat(0x1.ff8p-15f)); // largest subnormal
    assertEquals(0x0000, HalfFloat.fromFloat(Float.MIN_VALUE));
    assertEquals(0x8000, HalfFloat.fromFloat(-0.0f) & 0xffff);
    // NaNs stay NaNs, even when their payload is only in the bits that are dropped.
    assertTrue(Float.isNaN(HalfFloat.toFloat(HalfFloat.fromFloat(Float.NaN))));
    assertTrue(
        Float.isNaN(HalfFloat.toFloat(HalfFloat.fromFloat(Float.intBitsToFloat(0x7f800001)))));
    assertTrue(
        Float.isNaN(HalfFloat.toFloat(HalfFloat.fromFloat(Float.intBitsToFloat(0xff800001)))));
    assertEquals(0x8000, HalfFloat.fromFloat(Float.intBitsToFloat(0xff800001)) & 0x8000);
  }

  @Test
  void bf16DecodesAll65536PatternsAsTheUpperHalfOfAFloat() {
    for (int h = 0; h < 0x10000; h++) {
      assertEquals(h << 16, Float.floatToRawIntBits(HalfFloat.bf16ToFloat((short) h)));
      assertEquals(
          h,
          HalfFloat.bf16FromFloat(HalfFloat.bf16ToFloat((short) h)) & 0xffff,
          "0x" + Integer.toHexString(h));
    }
  }

  /** The bfloat16 nearest to non-NaN {@code x}, ties to even, by scaling to the ulp and rint. */
  private static int referenceBf16(float x) {
    int sign = (Float.floatToRawIntBits(x) >>> 16) & 0x8000;
    double abs = Math.abs((double) x);
    if (abs == 0 || Double.isInfinite(abs)) {
      return Float.floatToRawIntBits(x) >>> 16;
    }
    int e = Math.max(Math.getExponent(abs), -126);
    double ulp = Math.scalb(1.0, e - 7);
    double rounded = Math.rint(abs / ulp) * ulp;
    if (rounded >= 0x1p128) {
      return sign | 0x7f80;
    }
    int bits = Float.floatToRawIntBits((float) rounded);
    assertEquals(0, bits & 0xffff, "reference not a bf16: " + rounded);
    return sign | (bits >>> 16);
  }

  @Test
  void bf16FromFloatMatchesTheReference() {
    SplittableRandom random = new SplittableRandom(2);
    for (int i = 0; i < 2_000_000; i++) {
      int bits = random.nextInt();
      if (i % 4 == 0) {
        bits = (bits & 0xffff0000) | 0x8000; // exact ties
      }
      float x = Float.intBitsToFloat(bits);
      if (Float.isNaN(x)) {
        assertTrue(Float.isNaN(HalfFloat.bf16ToFloat(HalfFloat.bf16FromFloat(x))), "x = " + x);
        continue;
      }
      assertEquals(
          referenceBf16(x),
          HalfFloat.bf16FromFloat(x) & 0xffff,
          "bits 0x" + Integer.toHexString(bits));
    }
    assertEquals(0x3f80, HalfFloat.bf16FromFloat(1.0f));
    assertEquals(0x7f80, HalfFloat.bf16FromFloat(Float.MAX_VALUE)); // rounds up to infinity
    assertEquals(0x7f7f, HalfFloat.bf16FromFloat(Float.intBitsToFloat(0x7f7f7fff)));
    assertEquals(0x3f80, HalfFloat.bf16FromFloat(Float.intBitsToFloat(0x3f808000))); // tie: even
    assertEquals(0x3f82, HalfFloat.bf16FromFloat(Float.intBitsToFloat(0x3f818000))); // tie: even
  }
}
