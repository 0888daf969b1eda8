package io.github.quipsharp.bindings.presets;

import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.tools.Info;
import org.bytedeco.javacpp.tools.InfoMap;
import org.bytedeco.javacpp.tools.InfoMapper;

/**
 * JavaCPP preset for the CUDA engine's boundary ({@code quipsharp/quipsharp_cuda.h}), written to
 * {@code io.github.quipsharp.bindings.QuipsharpCuda}. Its JNI library links
 * {@code libquipsharp_cuda.so} (static cudart inside; a no-device build where there was no CUDA
 * compiler), and is loaded only when the CUDA API is first used, so the jar loads without a driver.
 * The declarations of {@code quipsharp.h} come from {@link QuipsharpPreset}.
 */
@Properties(
    inherit = QuipsharpPreset.class,
    target = "io.github.quipsharp.bindings.QuipsharpCuda",
    value = @Platform(include = "quipsharp/quipsharp_cuda.h", link = "quipsharp_cuda"))
public class QuipsharpCudaPreset implements InfoMapper {
  @Override
  public void map(InfoMap infoMap) {
    infoMap.put(new Info("QUIPSHARP_CUDA_H").define(false));
  }
}
