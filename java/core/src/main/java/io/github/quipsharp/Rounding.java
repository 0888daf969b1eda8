package io.github.quipsharp;

/** How the incoherence-processed weights are rounded to codewords (QUIPSHARP.md §5). */
public enum Rounding {
  /** BlockLDLQ: blocks of 8 columns with linear feedback from the Hessian's block LDL (§5.2). */
  BLOCK_LDLQ,
  /** Every block of 8 weights to its nearest codeword, ignoring the Hessian. */
  NEAREST
}
