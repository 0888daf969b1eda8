package io.github.quipsharp.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The element types of a safetensors file, named as in its header ({@code "F32"}, {@code "BF16"},
 * ...). Elements are stored little-endian.
 */
public enum DType {
  /** IEEE 754 binary64. */
  F64(8),
  /** IEEE 754 binary32. */
  F32(4),
  /** IEEE 754 binary16 (half precision); see {@link HalfFloat}. */
  F16(2),
  /** bfloat16: the upper 16 bits of a binary32; see {@link HalfFloat}. */
  BF16(2),
  /** 8-bit float, 4 exponent and 3 mantissa bits (stored and read only as raw bytes here). */
  F8_E4M3(1),
  /** 8-bit float, 5 exponent and 2 mantissa bits (stored and read only as raw bytes here). */
  F8_E5M2(1),
  /** Signed 64-bit integer. */
  I64(8),
  /** Signed 32-bit integer. */
  I32(4),
  /** Signed 16-bit integer. */
  I16(2),
  /** Signed 8-bit integer. */
  I8(1),
  /** Unsigned 64-bit integer. */
  U64(8),
  /** Unsigned 32-bit integer. */
  U32(4),
  /** Unsigned 16-bit integer. */
  U16(2),
  /** Unsigned 8-bit integer. */
  U8(1),
  /** Boolean, one byte per element (0 or 1). */
  BOOL(1);

  private static final String KNOWN =
      Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", "));

  private final int byteSize;

  DType(int byteSize) {
    this.byteSize = byteSize;
  }

  /** Bytes per element. */
  public int byteSize() {
    return byteSize;
  }

  /** True for F64, F32, F16 and BF16, the types {@code readFloats} converts to float. */
  public boolean isFloatingPoint() {
    return this == F64 || this == F32 || this == F16 || this == BF16;
  }

  /**
   * Converts the first {@code count} little-endian elements of {@code data} (from its position) of
   * this floating-point dtype to float (F64 rounds).
   *
   * @throws IllegalArgumentException if this dtype is not F32, F16, BF16 or F64
   */
  public float[] toFloats(ByteBuffer data, int count) {
    ByteBuffer b = data.slice().order(ByteOrder.LITTLE_ENDIAN);
    float[] out = new float[count];
    switch (this) {
      case F32 -> b.asFloatBuffer().get(out);
      case F64 -> {
        for (int i = 0; i < count; i++) {
          out[i] = (float) b.getDouble(i * 8);
        }
      }
      case F16 -> {
        for (int i = 0; i < count; i++) {
          out[i] = HalfFloat.toFloat(b.getShort(i * 2));
        }
      }
      case BF16 -> {
        for (int i = 0; i < count; i++) {
          out[i] = HalfFloat.bf16ToFloat(b.getShort(i * 2));
        }
      }
      default -> throw new IllegalArgumentException(this + " is not a floating-point dtype");
    }
    return out;
  }

  /**
   * The dtype named {@code name} exactly as in a safetensors header (case-sensitive, as the format
   * is).
   *
   * @throws IllegalArgumentException naming the known dtypes when {@code name} is not one of them
   */
  public static DType parse(String name) {
    if (name != null) {
      for (DType t : values()) {
        if (t.name().equals(name)) {
          return t;
        }
      }
    }
    throw new IllegalArgumentException(
        "unknown dtype "
            + (name == null ? "null" : "\"" + name + "\"")
            + " (known: "
            + KNOWN
            + ")");
  }
}
