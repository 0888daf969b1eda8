package io.github.quipsharp.bindings.presets;

import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.tools.Info;
import org.bytedeco.javacpp.tools.InfoMap;
import org.bytedeco.javacpp.tools.InfoMapper;

/**
 * JavaCPP preset for the benchmark drivers ({@code quipsharp/quipsharp_bench.h}, library
 * {@code libquipsharp_bench.so}: the drivers live outside the engine), written to
 * {@code io.github.quipsharp.bindings.QuipsharpBench} and loaded only when a benchmark runs. The
 * declarations of {@code quipsharp.h} come from {@link QuipsharpPreset}.
 */
@Properties(
    inherit = QuipsharpPreset.class,
    target = "io.github.quipsharp.bindings.QuipsharpBench",
    value = @Platform(include = "quipsharp/quipsharp_bench.h", link = "quipsharp_bench"))
public class QuipsharpBenchPreset implements InfoMapper {
  @Override
  public void map(InfoMap infoMap) {
    infoMap.put(new Info("QUIPSHARP_BENCH_H").define(false));
  }
}
