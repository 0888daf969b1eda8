package io.github.quipsharp.bindings.presets;

import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.tools.Info;
import org.bytedeco.javacpp.tools.InfoMap;
import org.bytedeco.javacpp.tools.InfoMapper;

/**
 * JavaCPP preset for the native core. The parser reads only {@code quipsharp/quipsharp.h} (plain C
 * functions over raw pointers) and writes {@code io.github.quipsharp.bindings.QuipsharpNative}; the
 * JNI library links {@code libquipsharp.so}, and both are packaged under the platform folder.
 */
@Properties(
    target = "io.github.quipsharp.bindings.QuipsharpNative",
    value = @Platform(include = "quipsharp/quipsharp.h", link = "quipsharp"))
public class QuipsharpPreset implements InfoMapper {
  @Override
  public void map(InfoMap infoMap) {
    infoMap.put(new Info("QUIPSHARP_H").define(false));
    infoMap.put(new Info("QS_API").cppTypes().annotations());
  }
}
