package io.github.quipsharp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class QuantizeMatrixCommandTest {
  static String[] run(int expectedExit, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    assertEquals(expectedExit, rc, "exit code; stdout:\n" + out + "\nstderr:\n" + err);
    return new String[] {out.toString(), err.toString()};
  }

  static double relative(String output, String label) {
    Matcher m = Pattern.compile(Pattern.quote(label) + ".*?relative ([0-9.]+)").matcher(output);
    assertTrue(m.find(), "no '" + label + "' line in:\n" + output);
    return Double.parseDouble(m.group(1));
  }

  @Test
  void printsProxyLossesOfBothRoundingsAndBlockLdlqWins() {
    String out = run(0, "quantize-matrix", "--rows", "128", "--cols", "256", "--bits", "2",
        "--hessian", "random", "--seed", "3", "--refine-passes", "1")[0];
    assertTrue(out.contains("MSE") && out.contains("time"), out);
    assertTrue(relative(out, "BlockLDLQ") < relative(out, "nearest rounding"), out);
  }

  @Test
  void identityHessianWorksForEveryBitWidth() {
    for (String bits : new String[] {"2", "3", "4"}) {
      String out = run(0, "quantize-matrix", "--rows", "64", "--cols", "64", "--bits", bits,
          "--hessian", "identity", "--threads", "1")[0];
      assertTrue(out.contains(bits + " bits"), out);
    }
  }

  @Test
  void badArgumentsGiveAClearErrorAndExitCode() {
    String err = run(2, "quantize-matrix", "--rows", "64", "--cols", "64", "--bits", "5")[1];
    assertTrue(err.contains("bits = 5"), err);
    err = run(2, "quantize-matrix", "--rows", "0", "--cols", "64")[1];
    assertTrue(err.contains("rows = 0"), err);
    run(2, "quantize-matrix", "--rows", "64"); // --cols missing: picocli usage error
  }
}
