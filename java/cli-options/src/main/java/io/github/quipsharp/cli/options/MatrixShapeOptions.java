package io.github.quipsharp.cli.options;

import picocli.CommandLine.Option;

/** --rows and --cols of one weight matrix, of the commands that make one (quantize-matrix, bench). */
public final class MatrixShapeOptions {
  @Option(names = "--rows", required = true,
      description = "Rows of the matrix W: the layer's output features.")
  private int rows;

  @Option(names = "--cols", required = true,
      description = "Columns of the matrix W: the layer's input features.")
  private int cols;

  /** --rows, checked: at least 1. */
  public int rows() {
    FlagChecks.atLeast("--rows", rows, 1);
    return rows;
  }

  /** --cols, checked: at least 1. */
  public int cols() {
    FlagChecks.atLeast("--cols", cols, 1);
    return cols;
  }
}
