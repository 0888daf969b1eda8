package io.github.quipsharp.spark;

import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.cli.options.CalibrationOptions;
import io.github.quipsharp.cli.options.QuantizationOptions;
import io.github.quipsharp.cli.options.RunFolderOptions;
import io.github.quipsharp.cli.options.SourceModelOptions;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * quantize: a whole model to a QuIP# checkpoint, scaled out on Spark. The model, quantization,
 * calibration and output flags are the mixins of {@code quipsharp quantize} itself (module
 * quipsharp-cli-options): one declaration, the same names, defaults and help.
 */
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

  @CommandLine.Mixin SourceModelOptions source;

  @CommandLine.Mixin QuantizationOptions quantization;

  @CommandLine.Mixin CalibrationOptions calibration;

  @CommandLine.Mixin RunFolderOptions output;

  @Option(names = "--partitions",
      description = "Window chunks of Phase A, one task each (default: Spark's default parallelism).")
  Integer partitions;

  @Option(names = "--fail-once", paramLabel = "TASK",
      description = "Tests: the first attempt of TASK fails (hessian:<layer> or "
          + "quantize:<layer>.<qkv|o|up|down>, layers from 0): it throws in local mode and halts "
          + "its executor JVM where executors have their own (local-cluster, a cluster).")
  String failOnce;

  /** Set by tests: keep out/.partial after the checkpoint is written. */
  boolean keepPartial;

  @Override
  public Integer call() throws IOException {
    QuantConfig cfg = quantization.config();
    calibration.validate();
    JobSpec job = JobSpec.builder().master(master).model(source.location())
        .calibration(calibration.location()).tokenizer(source.tokenizer().location())
        .out(output.location()).quantConfig(cfg).samples(calibration.samples())
        .ctx(calibration.ctx()).fraction(calibration.fraction()).partitions(partitions)
        .resume(output.resume()).failOnce(failOnce).keepPartial(keepPartial)
        .allowLongerContext(calibration.context().allowed()).build();
    QuantizationInfo info = new ScaleOutJob(job, spec.commandLine().getOut()).run();
    return info.layers().isEmpty() ? 1 : 0;
  }
}
