package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad input: a one-line error (exit code 2) before any Spark context starts, nothing written. */
class BadInputTest {
  @TempDir Path tmp;

  /**
   * Runs a command line that must be refused before Spark starts: exit code 2, one error line
   * holding {@code expected}, and no run folder in {@code out} (when given).
   */
  static void assertRejected(List<String> args, String expected, Path out) {
    Stories.Result r = Stories.spark(false, args);
    assertEquals(2, r.code(), r.out() + r.err());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.startsWith("error: ") && err.contains(expected), err);
    // The driver prints "Spark <version>, master ..." right after its context starts.
    assertFalse(r.out().contains("Spark "), "a Spark context was started: " + r.out());
    if (out != null) {
      assertFalse(Files.exists(out.resolve(io.github.quipsharp.ModelQuantizer.PARTIAL)), "wrote " + out);
    }
  }

  private static List<String> with(List<String> args, String option, String value) {
    List<String> a = new ArrayList<>(args);
    int i = a.indexOf(option);
    if (i >= 0) {
      a.set(i + 1, value);
    } else {
      a.add(option);
      a.add(value);
    }
    return a;
  }

  @Test
  void eachBadInputGetsAOneLineErrorBeforeSparkStarts() throws IOException {
    Stories s = Stories.load();
    Path out = tmp.resolve("out");
    List<String> good = s.args(out, 1);
    assertRejected(with(good, "--model", tmp.resolve("no-such-model").toString()),
        "--model " + tmp.resolve("no-such-model") + " does not exist", out);
    Path file = Files.writeString(tmp.resolve("a-file"), "x");
    assertRejected(with(good, "--out", file.resolve("out").toString()), "cannot be written", null);
    assertRejected(with(good, "--out", file.toString()), "is a file, not a folder", null);
    assertRejected(with(good, "--partitions", "0"), "--partitions 0 must be at least 1", out);
    assertRejected(with(good, "--bits", "5"), "--bits = 5 must be one of 2, 3, 4", out);
    assertRejected(with(good, "--calibration", tmp.resolve("none.txt").toString()), "does not exist", out);
    assertRejected(with(good, "--fail-once", "quantize:9.qkv"), "--fail-once quantize:9.qkv must be", out);
    assertRejected(with(good, "--fail-once", "hessian:x"), "--fail-once hessian:x must be", out);
    assertRejected(with(good, "--ctx", "100000"), "--ctx 100000 exceeds the model's context length", out);
    assertFalse(Files.exists(out), "created " + out);
  }

  /**
   * An HDFS host that does not resolve (Hadoop throws IllegalArgumentException wrapping
   * UnknownHostException) is one line naming the flag, the path and the host; no HDFS needed.
   */
  @Test
  void anUnknownHdfsHostNamesTheFlagAndThePath() throws IOException {
    Stories s = Stories.load();
    Path out = tmp.resolve("out");
    List<String> good = s.args(out, 1);
    String remote = "hdfs://no-such-host.invalid/x";
    for (String option : new String[] {"--model", "--calibration", "--out"}) {
      assertRejected(with(good, option, remote), option + " " + remote + " cannot be reached: "
          + "unknown host no-such-host.invalid", "--out".equals(option) ? null : out);
    }
    assertFalse(Files.exists(out), "created " + out);
  }
}
