package io.github.quipsharp.pipeline;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.internal.HessianSum;
import java.io.IOException;
import java.util.Arrays;

/**
 * Where a run keeps the Hessian sum Σ x xᵀ and token count of every (layer, linear group) between
 * collecting them (QUIPSHARP.md §1.2) and quantizing (§1.4). One on-disk format for every store:
 * the F64 safetensors file of {@link LocalHessianStore#writeFile}, one file per group, each
 * written whole under a temporary name and renamed into place, so a file that exists is complete.
 */
public interface HessianStore {
  /** Whether the Hessian of this group has been written. */
  boolean contains(int layer, LinearGroup group);

  /** Writes the Hessian of this group (whole, or not at all). */
  void write(int layer, LinearGroup group, HessianSum hessian) throws IOException;

  /**
   * Reads the Hessian of this group.
   *
   * @throws io.github.quipsharp.ModelFormatException naming the file when it is missing,
   *     truncated or not a Hessian file
   */
  HessianSum read(int layer, LinearGroup group);

  /** Whether every group of the layer has its Hessian. */
  default boolean containsLayer(int layer) {
    return Arrays.stream(LinearGroup.values()).allMatch(g -> contains(layer, g));
  }

  /** The file name of a group's Hessian inside a store's folder. */
  static String fileName(int layer, LinearGroup group) {
    return layer + "_" + group.key() + ".safetensors";
  }
}
