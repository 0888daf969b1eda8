package io.github.quipsharp.safetensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor of a safetensors file, as its header describes it.
 *
 * <p>{@code begin} and {@code end} are <b>absolute byte offsets in the file</b> (the header's
 * {@code data_offsets} plus the start of the data section, 8 + header length), so that {@code
 * [begin, end)} can be mapped or read directly. {@code shape} is row-major; a scalar has the empty
 * shape {@code []} and one element. The record copies {@code shape} on the way in and out, so an
 * instance is immutable, and compares shapes by content.
 *
 * @param name the tensor's name in the header
 * @param dtype its element type
 * @param shape its dimensions, outermost first, each non-negative
 * @param begin absolute file offset of its first byte
 * @param end absolute file offset just past its last byte
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

  /** Checks the arguments and copies {@code shape}. */
  public TensorInfo {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(dtype, "dtype");
    shape = Objects.requireNonNull(shape, "shape").clone();
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(
            name + ": negative dimension in shape " + shapeString(shape));
      }
    }
    if (begin < 0 || end < begin) {
      throw new IllegalArgumentException(name + ": bad offsets [" + begin + ", " + end + ")");
    }
  }

  /** A copy of the dimensions. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** The number of dimensions (0 for a scalar). */
  public int rank() {
    return shape.length;
  }

  /** Dimension {@code i} (outermost is 0). */
  public long dim(int i) {
    return shape[i];
  }

  /**
   * The number of elements: the product of the dimensions, 1 for a scalar.
   *
   * @throws ArithmeticException if the product overflows a long (never for a tensor of an opened
   *     file, which checks this)
   */
  public long elementCount() {
    return elementCount(shape);
  }

  /** {@code end - begin}. */
  public long byteSize() {
    return end - begin;
  }

  /** The shape as in the header, e.g. {@code [512, 64]}. */
  public String shapeString() {
    return shapeString(shape);
  }

  /** Product of {@code shape}, 1 for {@code []}; throws ArithmeticException on overflow. */
  static long elementCount(long[] shape) {
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  static String shapeString(long[] shape) {
    return Arrays.toString(shape);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof TensorInfo t
        && name.equals(t.name)
        && dtype == t.dtype
        && Arrays.equals(shape, t.shape)
        && begin == t.begin
        && end == t.end;
  }

  @Override
  public int hashCode() {
    return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
  }

  @Override
  public String toString() {
    return name + " " + dtype + " " + shapeString(shape) + " @[" + begin + ", " + end + ")";
  }
}
