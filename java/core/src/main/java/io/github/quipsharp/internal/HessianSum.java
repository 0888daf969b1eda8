package io.github.quipsharp.internal;

/**
 * Σ x xᵀ of one layer group's inputs (n×n, row-major, float64, QUIPSHARP.md §1.2) and the number
 * of tokens summed: the one Hessian type from the engine's accumulators through the Hessian store
 * to the quantizer, which forms the mean itself.
 */
public record HessianSum(int n, double[] sum, long tokens) {}
