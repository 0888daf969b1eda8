package io.github.quipsharp.safetensors;

/**
 * Conversions between float32 and the two 16-bit float formats of model files: IEEE 754 binary16
 * ({@link DType#F16}) and bfloat16 ({@link DType#BF16}). Every 16-bit value converts to float
 * exactly; float to 16 bits rounds to nearest, ties to even, overflowing to infinity. NaNs stay
 * NaNs with their sign and the top bits of their payload, so a 16-bit NaN survives a round trip
 * through float bit for bit. (Java 17 has no {@code Float.float16ToFloat}; it came in Java 20.)
 */
public final class HalfFloat {
  private HalfFloat() {}

  /** The binary16 value with bit pattern {@code bits} as a float (exact). */
  public static float toFloat(short bits) {
    int h = bits & 0xffff;
    int sign = (h & 0x8000) << 16;
    int exp = (h >>> 10) & 0x1f;
    int mant = h & 0x3ff;
    if (exp == 0x1f) {
      // Infinity or NaN: the payload moves to the top of the float mantissa.
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    if (exp == 0) {
      // Zero or subnormal, mant * 2^-24; the product is exact in float.
      float magnitude = mant * 0x1p-24f;
      return sign == 0 ? magnitude : -magnitude;
    }
    // Normal: rebias the exponent from 15 to 127 and widen the mantissa.
    return Float.intBitsToFloat(sign | ((exp + (127 - 15)) << 23) | (mant << 13));
  }

  /** The binary16 bit pattern nearest to {@code value} (round to nearest, ties to even). */
  public static short fromFloat(float value) {
    int f = Float.floatToRawIntBits(value);
    int sign = (f >>> 16) & 0x8000;
    int abs = f & 0x7fffffff;
    if (abs > 0x7f800000) {
      // NaN: keep the top 10 payload bits; if they are all zero, set the quiet bit so that the
      // result is still a NaN and not an infinity.
      int payload = (abs >>> 13) & 0x3ff;
      return (short) (sign | 0x7c00 | (payload == 0 ? 0x200 : payload));
    }
    if (abs >= 0x477ff000) {
      // 65520 and above (infinity included) round to infinity: 65520 is halfway between the
      // largest half, 65504 (odd mantissa), and 65536, so the tie goes to the even 65536 = inf.
      return (short) (sign | 0x7c00);
    }
    if (abs < 0x38800000) {
      // Below 2^-14 the result is subnormal, a multiple of 2^-24.
      if (abs <= 0x33000000) {
        // At most 2^-25, half of the smallest subnormal: rounds to zero (the tie to even 0).
        return (short) sign;
      }
      int e = abs >>> 23; // 102..112 here
      int m = (abs & 0x7fffff) | 0x800000;
      // abs = m * 2^(e - 150) = (m >> shift) * 2^-24 with shift = 126 - e (14..24).
      int shift = 126 - e;
      return (short) (sign | roundShift(m, shift));
    }
    // Normal: rebias, drop 13 mantissa bits rounding to even. A carry out of the mantissa moves
    // into the exponent, which is the correctly rounded result (up to 65504 by the bound above).
    int base = (abs - ((127 - 15) << 23));
    return (short) (sign | roundShift(base, 13));
  }

  /** The bfloat16 value with bit pattern {@code bits} as a float (exact). */
  public static float bf16ToFloat(short bits) {
    return Float.intBitsToFloat((bits & 0xffff) << 16);
  }

  /** The bfloat16 bit pattern nearest to {@code value} (round to nearest, ties to even). */
  public static short bf16FromFloat(float value) {
    int f = Float.floatToRawIntBits(value);
    if ((f & 0x7fffffff) > 0x7f800000) {
      // NaN: truncate, but keep it a NaN if the surviving payload bits are all zero.
      int upper = f >>> 16;
      return (short) ((upper & 0x7f) == 0 ? upper | 0x40 : upper);
    }
    // Rounding the low 16 bits may carry into the exponent, up to infinity, as it should.
    return (short) roundShift(f, 16);
  }

  /**
   * {@code x >>> shift} rounded to nearest, ties to even ({@code x} non-negative or a bit field).
   */
  private static int roundShift(int x, int shift) {
    int q = x >>> shift;
    int rem = x & ((1 << shift) - 1);
    int half = 1 << (shift - 1);
    if (rem > half || (rem == half && (q & 1) != 0)) {
      q++;
    }
    return q;
  }
}
