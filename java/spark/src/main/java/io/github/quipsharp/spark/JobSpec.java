package io.github.quipsharp.spark;

import io.github.quipsharp.QuantConfig;

/**
 * The settings of one scale-out run, as the {@code quantize} command read them; built with {@link
 * #builder()} and checked when built (the messages name the command's flags). {@code master} is
 * null under spark-submit (its --master applies); {@code partitions} null means Spark's default
 * parallelism. {@code quantConfig} is the full per-matrix config, the same one {@code quipsharp
 * quantize} builds, shipped to every task. {@code keepPartial} keeps {@code out/.partial} after
 * the checkpoint is written (tests read the Hessians from it). {@code allowLongerContext} accepts a
 * {@code ctx} beyond the model's context length.
 */
record JobSpec(String master, String model, String calibration, String tokenizer, String out,
    QuantConfig quantConfig, int samples, int ctx, double fraction, Integer partitions,
    boolean resume, String failOnce, boolean keepPartial, boolean allowLongerContext) {

  JobSpec {
    require(model, "--model");
    require(calibration, "--calibration");
    require(out, "--out");
    require(quantConfig, "the quantization config");
    if (partitions != null && partitions < 1) {
      throw new IllegalArgumentException("--partitions " + partitions + " must be at least 1");
    }
    if (ctx < 2) {
      throw new IllegalArgumentException("--ctx " + ctx + " must be at least 2");
    }
    if (samples < 0) {
      throw new IllegalArgumentException("--samples " + samples + " must be >= 0 (0 = all)");
    }
  }

  private static void require(Object value, String what) {
    if (value == null) {
      throw new IllegalArgumentException(what + " is required");
    }
  }

  static Builder builder() {
    return new Builder();
  }

  /** Builds a {@link JobSpec}; defaults as the command's: all windows of 256 tokens, 0.75 of the text. */
  static final class Builder {
    private String master;
    private String model;
    private String calibration;
    private String tokenizer;
    private String out;
    private QuantConfig quantConfig;
    private int samples;
    private int ctx = 256;
    private double fraction = 0.75;
    private Integer partitions;
    private boolean resume;
    private String failOnce;
    private boolean keepPartial;
    private boolean allowLongerContext;

    Builder master(String v) {
      master = v;
      return this;
    }

    Builder model(String v) {
      model = v;
      return this;
    }

    Builder calibration(String v) {
      calibration = v;
      return this;
    }

    Builder tokenizer(String v) {
      tokenizer = v;
      return this;
    }

    Builder out(String v) {
      out = v;
      return this;
    }

    Builder quantConfig(QuantConfig v) {
      quantConfig = v;
      return this;
    }

    Builder samples(int v) {
      samples = v;
      return this;
    }

    Builder ctx(int v) {
      ctx = v;
      return this;
    }

    Builder fraction(double v) {
      fraction = v;
      return this;
    }

    Builder partitions(Integer v) {
      partitions = v;
      return this;
    }

    Builder resume(boolean v) {
      resume = v;
      return this;
    }

    Builder failOnce(String v) {
      failOnce = v;
      return this;
    }

    Builder keepPartial(boolean v) {
      keepPartial = v;
      return this;
    }

    Builder allowLongerContext(boolean v) {
      allowLongerContext = v;
      return this;
    }

    JobSpec build() {
      return new JobSpec(master, model, calibration, tokenizer, out, quantConfig, samples, ctx,
          fraction, partitions, resume, failOnce, keepPartial, allowLongerContext);
    }
  }
}
