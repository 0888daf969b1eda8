package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/**
 * {@code quipsharp-spark quantize} and {@code quipsharp quantize} take the same quantization flags
 * from one declaration (the mixins of quipsharp-cli-options): the same names, help text and
 * defaults in both --help outputs; and Spark refuses, before any Spark context starts, a bad value
 * with the single machine's one-line error. (That each setting reaches the tasks: SparkFamiliesTest.)
 */
class QuantizeFlagsTest {
  /** The flags of a quantization run, as `quipsharp quantize` had them and issue 22 adds them. */
  static final List<String> SHARED = List.of("--model", "--tokenizer", "--bits", "--seed",
      "--rounding", "--refine-passes", "--no-rht", "--damping", "--scale", "--residual-scale",
      "--calibration", "--calibration-fraction", "--ctx", "--samples", "--allow-longer-context",
      "--out", "--resume");

  /** Spark's own flags, and picocli's standard ones. */
  static final Set<String> SPARK_ONLY = Set.of("--master", "--partitions", "--fail-once",
      "--help", "--version");

  @TempDir Path tmp;

  static String help(boolean spark) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = spark
        ? SparkQuantize.run(new PrintWriter(out, true), new PrintWriter(err, true), "quantize", "--help")
        : io.github.quipsharp.cli.Main.run(new PrintWriter(out, true), new PrintWriter(err, true),
            "quantize", "--help");
    assertEquals(0, code, err.toString());
    return out.toString();
  }

  private static final Pattern OPTION_LINE = Pattern.compile("^  (?:-\\w, |    )(--[a-z-]+)");

  /**
   * Each option's block of a --help output (its line and the description lines under it), keyed by
   * its long name, with white space removed: the two commands wrap at different columns.
   */
  static Map<String, String> optionBlocks(String help) {
    Map<String, String> blocks = new LinkedHashMap<>();
    String current = null;
    for (String line : help.split("\n")) {
      Matcher m = OPTION_LINE.matcher(line);
      if (m.find()) {
        current = m.group(1);
        blocks.put(current, "");
      }
      if (current != null) {
        blocks.put(current, blocks.get(current) + line.replaceAll("\\s+", ""));
      }
    }
    return blocks;
  }

  @Test
  void bothHelpsListTheSameQuantizationFlagsWithTheSameTextAndDefaults() {
    Map<String, String> cli = optionBlocks(help(false));
    Map<String, String> spark = optionBlocks(help(true));
    for (String flag : SHARED) {
      assertTrue(spark.containsKey(flag), flag + " missing from quipsharp-spark quantize --help");
      assertTrue(cli.containsKey(flag), flag + " missing from quipsharp quantize --help");
      assertEquals(cli.get(flag), spark.get(flag), flag);
    }
    // Spark's quantize has no flag of its own beyond the Spark ones.
    Set<String> extra = new TreeSet<>(spark.keySet());
    extra.removeAll(SHARED);
    extra.removeAll(SPARK_ONLY);
    assertEquals(Set.of(), extra, "flags of Spark's quantize that quipsharp quantize lacks");
    // The defaults are part of the text compared; these are the documented ones.
    assertTrue(spark.get("--ctx").contains("(default:256)"), spark.get("--ctx"));
    assertTrue(spark.get("--refine-passes").contains("(default:10)"), spark.get("--refine-passes"));
    assertTrue(spark.get("--rounding").contains("(default:ldlq)"), spark.get("--rounding"));
    assertTrue(spark.get("--damping").contains("default:0.01"), spark.get("--damping"));
  }

  @Test
  void eachSharedFlagIsOneDeclaration() {
    CommandLine.Model.CommandSpec cli = new CommandLine(new io.github.quipsharp.cli.Main())
        .getSubcommands().get("quantize").getCommandSpec();
    CommandLine.Model.CommandSpec spark = new CommandLine(new SparkQuantize())
        .getSubcommands().get("quantize").getCommandSpec();
    for (String flag : SHARED) {
      OptionSpec a = cli.findOption(flag);
      OptionSpec b = spark.findOption(flag);
      assertTrue(a.userObject() instanceof Field, flag + " is a field");
      Field declared = (Field) a.userObject();
      assertEquals(declared, b.userObject(), flag + " is declared once");
      assertEquals("io.github.quipsharp.cli.options", declared.getDeclaringClass().getPackageName(),
          flag);
      assertEquals(Arrays.asList(a.description()), Arrays.asList(b.description()), flag);
      assertEquals(a.defaultValue(), b.defaultValue(), flag);
      assertEquals(a.required(), b.required(), flag);
    }
  }

  /** Runs Spark's quantize with these flags after valid ones; it must be refused up front. */
  void refused(String expected, String... flags) {
    Path out = tmp.resolve("out");
    List<String> args = new ArrayList<>(List.of("quantize", "--master", "local[1]", "--model",
        tmp.resolve("model").toString(), "--calibration", tmp.resolve("text.txt").toString(),
        "--bits", "2", "--out", out.toString()));
    args.addAll(List.of(flags));
    BadInputTest.assertRejected(args, expected, out);
    assertFalse(Files.exists(out), "created " + out);
  }

  @Test
  void badValuesAreTheSingleMachinesOneLineErrors() {
    refused("--refine-passes = -1 must be >= 0", "--refine-passes", "-1");
    refused("--damping = NaN must be a finite number >= 0", "--damping", "NaN");
    refused("--ctx = 1 must be >= 2", "--ctx", "1");
    refused("--calibration-fraction = 0.0 must be in (0, 1)", "--calibration-fraction", "0");
    refused("(see quipsharp-spark quantize --help)", "--rounding", "bogus");
    refused("(see quipsharp-spark quantize --help)", "--seed", "abc");
  }
}
