package io.github.quipsharp.spark;

/**
 * The settings of one scale-out run, as the {@code quantize} command read them. {@code master} is
 * null under spark-submit (its --master applies); {@code partitions} null means Spark's default
 * parallelism. {@code keepPartial} keeps {@code out/.partial} after the checkpoint is written (tests
 * read the Hessians from it). {@code allowLongerContext} accepts a {@code ctx} beyond the model's
 * context length.
 */
record JobSpec(String master, String model, String calibration, String tokenizer, int bits,
    String out, long seed, int samples, int ctx, double fraction, Integer partitions, boolean resume,
    String failOnce, boolean keepPartial, boolean allowLongerContext) {

  JobSpec withKeepPartial() {
    return new JobSpec(master, model, calibration, tokenizer, bits, out, seed, samples, ctx, fraction,
        partitions, resume, failOnce, true, allowLongerContext);
  }
}
