package io.github.quipsharp;

import java.util.List;

/** How a checkpoint was quantized: the settings and one report per layer group, in order. */
public record QuantizationInfo(QuantConfig config, List<LayerReport> layers) {
  public QuantizationInfo {
    layers = List.copyOf(layers);
  }

  /** Whether any layer group was padded (§10.6). */
  public boolean anyPadded() {
    return layers.stream().anyMatch(r -> r.shape().isPadded());
  }
}
