package io.github.quipsharp.model;

import io.github.quipsharp.safetensors.DType;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * One weight tensor of a model file: its dtype, shape and a read-only little-endian view of its
 * bytes, memory-mapped from the file (never copied into the Java heap).
 */
public record Tensor(String name, DType dtype, long[] shape, ByteBuffer data) {
  public Tensor {
    shape = shape.clone();
  }

  @Override
  public long[] shape() {
    return shape.clone();
  }

  public long elementCount() {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /** A heap copy of the values as float (for one layer at a time; weights stay mapped otherwise). */
  public float[] toFloats() {
    return dtype.toFloats(data, Math.toIntExact(elementCount()));
  }

  public String shapeString() {
    return Arrays.toString(shape);
  }
}
