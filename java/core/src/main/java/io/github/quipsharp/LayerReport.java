package io.github.quipsharp;

/**
 * What quantizing one layer group produced: its (padded) shape, the seed of its sign vectors and the
 * relative proxy loss tr((W−Ŵ)H(W−Ŵ)ᵀ)/tr(WHWᵀ) under the undamped Hessian (§5.4), over the stacked
 * member matrices at their real scale.
 */
public record LayerReport(
    int layer, LinearGroup group, QuantShape shape, long seed, double relativeProxyLoss) {

  /** "layer 3 qkv" */
  public String name() {
    return "layer " + layer + " " + group.key();
  }
}
