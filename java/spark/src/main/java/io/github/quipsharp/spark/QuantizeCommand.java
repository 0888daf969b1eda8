package io.github.quipsharp.spark;

import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.Rounding;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** quantize: a whole model to a QuIP# checkpoint, scaled out on Spark (flags as quipsharp quantize). */
@Command(
    name = "quantize",
    mixinStandardHelpOptions = true,
    description = {
      "Quantizes every linear layer of a Llama-family model with QuIP# on a Spark",
      "cluster or in local mode, and writes the same checkpoint folder as",
      "`quipsharp quantize`. Phase A collects the Hessians layer by layer over",
      "window chunks; Phase B quantizes one (layer, group) per task. Paths may be",
      "file://, hdfs:// or s3a:// URIs, or local paths."
    })
final class QuantizeCommand implements Callable<Integer> {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Option(names = "--master",
      description = "Spark master URL: local[N], local-cluster[...], spark://..., yarn (default: "
          + "the one spark-submit was given). local[N] retries a failed task up to 4 times.")
  String master;

  @Option(names = "--model", required = true,
      description = "Model: a Hugging Face folder (config.json + safetensors) or a llama2.c .bin.")
  String model;

  @Option(names = "--bits", required = true, description = "Bits per weight: 2, 3 or 4.")
  int bits;

  @Option(names = "--calibration", required = true,
      description = "UTF-8 text file; its first --calibration-fraction of tokens give the Hessians.")
  String calibration;

  @Option(names = "--out", required = true,
      description = "Output folder (new or empty; or an interrupted run's folder with --resume).")
  String out;

  @Option(names = "--tokenizer",
      description = "Tokenizer file (tokenizer.json or llama2.c .bin; default: the model's own).")
  String tokenizer;

  @Option(names = "--samples", defaultValue = "0",
      description = "Calibration windows to use (default: all that fit, ${DEFAULT-VALUE} = all).")
  int samples;

  @Option(names = "--ctx", defaultValue = "256",
      description = "Tokens per calibration window (default: ${DEFAULT-VALUE}).")
  int ctx;

  @Option(names = "--calibration-fraction", defaultValue = "0.75",
      description = "Fraction of the text's tokens used for calibration; `ppl --heldout` evaluates "
          + "the rest (default: ${DEFAULT-VALUE}).")
  double fraction;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of the sign vectors (each layer group derives its own; default: ${DEFAULT-VALUE}).")
  long seed;

  @Option(names = "--partitions",
      description = "Window chunks of Phase A, one task each (default: Spark's default parallelism).")
  Integer partitions;

  @Option(names = "--allow-longer-context",
      description = "Accept a --ctx beyond the model's context length (max_position_embeddings), "
          + "with a warning; refused without it.")
  boolean allowLongerContext;

  @Option(names = "--resume", description = "Continue an interrupted run in --out.")
  boolean resume;

  @Option(names = "--fail-once", paramLabel = "TASK",
      description = "Tests: the first attempt of TASK fails (hessian:<layer> or "
          + "quantize:<layer>.<qkv|o|up|down>, layers from 0): it throws in local mode and halts "
          + "its executor JVM where executors have their own (local-cluster, a cluster).")
  String failOnce;

  /** Set by tests: keep out/.partial after the checkpoint is written. */
  boolean keepPartial;

  @Override
  public Integer call() throws IOException {
    JobSpec job = JobSpec.builder().master(master).model(model).calibration(calibration)
        .tokenizer(tokenizer).out(out).quantConfig(quantConfig()).samples(samples).ctx(ctx)
        .fraction(fraction).partitions(partitions).resume(resume).failOnce(failOnce)
        .keepPartial(keepPartial).allowLongerContext(allowLongerContext).build();
    QuantizationInfo info = new ScaleOutJob(job, spec.commandLine().getOut()).run();
    return info.layers().isEmpty() ? 1 : 0;
  }

  /** The per-matrix config of these flags, as {@code quipsharp quantize} builds it. */
  QuantConfig quantConfig() {
    if (bits < 2 || bits > 4) {
      throw new IllegalArgumentException("--bits " + bits + " is not supported: use 2, 3 or 4");
    }
    return QuantConfig.builder()
        .bits(bits)
        .seed(seed)
        .rounding(Rounding.BLOCK_LDLQ)
        .refinePasses(QuantConfig.DEFAULT_REFINE_PASSES)
        .incoherence(true)
        .build();
  }
}
