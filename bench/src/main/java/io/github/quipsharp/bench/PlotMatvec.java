package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;

/**
 * Draws the README's mat-vec plot from a {@link CpuBenchSuite} JSON file: fp32-equivalent GB/s
 * (rows·cols·4 bytes / time) by shape and bits at the largest thread count, with the machine's
 * measured read bandwidth for reference (a fp32 mat-vec cannot beat it; quantized ones can).
 *
 * <pre>java -cp bench/target/benchmarks.jar io.github.quipsharp.bench.PlotMatvec IN.json OUT.png</pre>
 */
public final class PlotMatvec {
  private PlotMatvec() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: PlotMatvec IN.json OUT.png");
      System.exit(2);
    }
    JsonNode root = new ObjectMapper().readTree(Path.of(args[0]).toFile());
    int threads = 0;
    for (JsonNode m : root.get("matvec")) {
      threads = Math.max(threads, m.get("threads").asInt());
    }
    double read = 0;
    for (JsonNode m : root.get("memory")) {
      if (m.get("threads").asInt() == threads) {
        read = m.get("read_gbytes_per_s").asDouble();
      }
    }
    CategoryChart chart =
        new CategoryChartBuilder()
            .width(1000)
            .height(560)
            .title(String.format(Locale.ROOT, "mat-vec, %d threads, %s%s", threads, root.get("machine").asText(),
                root.path("kernel").asText("AUTO").equals("AUTO") ? ""
                    : ", " + root.get("kernel").asText() + " kernels"))
            .xAxisTitle("layer shape (out x in)")
            .yAxisTitle("fp32-equivalent GB/s (rows*cols*4 / time)")
            .build();
    chart.getStyler().setYAxisMin(0.0);
    List<String> shapes = new ArrayList<>();
    for (int[] s : CpuBenchSuite.SHAPES) {
      shapes.add(s[0] + "x" + s[1]);
    }
    for (int bits : CpuBenchSuite.BITS) {
      List<Double> values = new ArrayList<>();
      for (int[] s : CpuBenchSuite.SHAPES) {
        double v = 0;
        for (JsonNode m : root.get("matvec")) {
          if (m.get("threads").asInt() == threads && m.get("bits").asInt() == bits
              && m.get("rows").asInt() == s[0] && m.get("cols").asInt() == s[1]) {
            v = m.get("fp32_equiv_gbytes_per_s").asDouble();
          }
        }
        values.add(v);
      }
      chart.addSeries(bits <= 4 ? "QuIP# " + bits + " bit" : "fp" + bits, shapes, values);
    }
    List<Double> line = new ArrayList<>();
    for (int i = 0; i < shapes.size(); i++) {
      line.add(read);
    }
    chart.addSeries(String.format(Locale.ROOT, "measured read bandwidth %.1f GB/s", read), shapes, line);
    BitmapEncoder.saveBitmap(chart, args[1], BitmapEncoder.BitmapFormat.PNG);
  }
}
