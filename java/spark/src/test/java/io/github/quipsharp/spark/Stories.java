package io.github.quipsharp.spark;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LlamaModel;
import io.github.quipsharp.Perplexity;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** stories260K (HF layout) and tinystories-sample.txt, with the commands' default split. */
final class Stories {
  final Path model;
  final Path text;
  final int[] calibration;
  final int[] heldout;

  private Stories(Path model, Path text, int[] all) {
    this.model = model;
    this.text = text;
    this.calibration = CalibrationSplit.calibration(all, 0.75);
    this.heldout = CalibrationSplit.heldout(all, 0.75);
  }

  /** Skips the calling test when the shared files are absent. */
  static Stories load() throws IOException {
    Path model = SharedModels.require("stories260K-hf");
    Path text = SharedModels.require("tinystories-sample.txt");
    return new Stories(model, text, Tokenizer.forModel(model).encode(Files.readString(text), true, false));
  }

  /** The spark command's arguments for a 2-bit run into {@code out}, then {@code extra}. */
  List<String> args(Path out, long seed, String... extra) {
    List<String> a = new ArrayList<>(List.of("quantize", "--master", "local[2]", "--model",
        model.toString(), "--calibration", text.toString(), "--bits", "2", "--out", out.toString(),
        "--seed", Long.toString(seed)));
    a.addAll(Arrays.asList(extra));
    return a;
  }

  double heldoutPpl(Path checkpoint) {
    try (LlamaModel m = LlamaModel.load(checkpoint)) {
      return Perplexity.evaluate(m, heldout, 256, null).ppl();
    }
  }

  /** Output of one in-process run of a command line. */
  record Result(int code, String out, String err) {}

  static Result spark(boolean keepPartial, List<String> args) {
    StringWriter o = new StringWriter();
    StringWriter e = new StringWriter();
    int code = SparkQuantize.run(new PrintWriter(o, true), new PrintWriter(e, true), keepPartial,
        args.toArray(String[]::new));
    return new Result(code, o.toString(), e.toString());
  }

  static Result cli(String... args) {
    StringWriter o = new StringWriter();
    StringWriter e = new StringWriter();
    int code = io.github.quipsharp.cli.Main.run(new PrintWriter(o, true), new PrintWriter(e, true), args);
    return new Result(code, o.toString(), e.toString());
  }

  /** {@code java -jar quipsharp-spark-local.jar} with these arguments (the UI off), as a process. */
  static ProcessBuilder jar(List<String> args) {
    List<String> c = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Dspark.ui.enabled=false", "-jar", System.getProperty("quipsharp.spark.jar")));
    c.addAll(args);
    return new ProcessBuilder(c).redirectErrorStream(true);
  }

  /** Runs a process to its end (at most 4 minutes) and returns its output; it must exit with 0. */
  static String run(ProcessBuilder pb) throws IOException, InterruptedException {
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    org.junit.jupiter.api.Assertions.assertTrue(p.waitFor(240, java.util.concurrent.TimeUnit.SECONDS), out);
    org.junit.jupiter.api.Assertions.assertEquals(0, p.exitValue(), out);
    return out;
  }

  /** max |got - want| / max |want| of two Hessian sums of the same group (token counts equal). */
  static double relativeDifference(io.github.quipsharp.internal.HessianSum want,
      io.github.quipsharp.internal.HessianSum got) {
    org.junit.jupiter.api.Assertions.assertEquals(want.tokens(), got.tokens());
    double scale = 0;
    double diff = 0;
    for (int i = 0; i < want.sum().length; i++) {
      scale = Math.max(scale, Math.abs(want.sum()[i]));
      diff = Math.max(diff, Math.abs(want.sum()[i] - got.sum()[i]));
    }
    return diff / scale;
  }

  /** Whether two checkpoint folders hold the same files with the same bytes. */
  static void assertSameFiles(Path expected, Path actual) throws IOException {
    List<String> names;
    try (var s = Files.list(expected)) {
      names = s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
    }
    List<String> got;
    try (var s = Files.list(actual)) {
      got = s.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".")).sorted().toList();
    }
    org.junit.jupiter.api.Assertions.assertEquals(names, got, "files of " + actual);
    for (String n : names) {
      org.junit.jupiter.api.Assertions.assertArrayEquals(Files.readAllBytes(expected.resolve(n)),
          Files.readAllBytes(actual.resolve(n)), n + " of " + actual + " differs from " + expected);
    }
  }
}
