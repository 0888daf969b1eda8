package io.github.quipsharp.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * quipsharp-core as a JPMS module: a consumer module that requires {@code quipsharp.core}, compiled
 * and run on the module path alone (the packaged jars, nothing on the class path), quantizes a
 * matrix through the public API with the native library loaded from the bindings module; the
 * packages that core does not export (its internals, the JavaCPP bindings) can neither be compiled
 * against nor called reflectively from it.
 */
class ModulePathIT {
  private static final String MODULE_INFO = "module consumer { requires quipsharp.core; }\n";

  private static final String CONSUMER = String.join("\n",
      "package app;",
      "import io.github.quipsharp.*;",
      "import java.lang.reflect.Method;",
      "public class Consumer {",
      "  public static void main(String[] a) throws Exception {",
      "    System.out.println(\"module=\" + Quantizer.class.getModule().getName());",
      "    float[] w = new float[32 * 64];",
      "    for (int i = 0; i < w.length; i++) {",
      "      w[i] = (float) Math.sin(0.37 * i + 0.1 * (i % 7));",
      "    }",
      "    try (QuantizedLinear q = Quantizer.quantize(w, 32, 64, null,",
      "        QuantConfig.builder().bits(2).seed(3).build())) {",
      "      System.out.println(\"rows=\" + q.rows() + \" decoded=\" + q.decode().length);",
      "    }",
      "    short[] c = E8P12Codebook.get().encode(",
      "        new float[] {0.3f, -1.2f, 0.8f, 2.1f, -0.4f, 0.05f, -0.9f, 1.6f});",
      "    System.out.println(\"code=\" + Integer.toHexString(c[0] & 0xffff));",
      "    call(\"io.github.quipsharp.internal.Checks\", \"positive\", long.class, String.class);",
      "    call(\"io.github.quipsharp.bindings.QuipsharpNative\", \"qs_last_error\");",
      "  }",
      // Loading a class is never refused; calling its public static method is, unless its package
      // is exported to this module. setAccessible cannot open it either.
      "  static void call(String cls, String method, Class<?>... types) throws Exception {",
      "    Method m = Class.forName(cls).getMethod(method, types);",
      "    try {",
      "      m.invoke(null, types.length == 0 ? new Object[0] : new Object[] {1L, \"x\"});",
      "      System.out.println(\"called \" + cls);",
      "    } catch (IllegalAccessException e) {",
      "      System.out.println(\"refused \" + cls + \": \" + e.getClass().getSimpleName());",
      "    }",
      "    try {",
      "      m.setAccessible(true);",
      "      System.out.println(\"opened \" + cls);",
      "    } catch (java.lang.reflect.InaccessibleObjectException e) {",
      "      System.out.println(\"not opened \" + cls);",
      "    }",
      "  }",
      "}",
      "");

  private static final String INTERNAL_USER = String.join("\n",
      "package app;",
      "public class InternalUser {",
      "  public static void main(String[] a) {",
      "    io.github.quipsharp.internal.Checks.positive(1, \"x\");",
      "  }",
      "}",
      "");

  @Test
  void publicApiWorksOnTheModulePathAndInternalsStayClosed(@TempDir Path tmp) throws Exception {
    List<String> modulePath = moduleJars();
    FreshJvm.Compilation compiled = FreshJvm.compileModule(tmp, "consumer",
        Map.of("module-info.java", MODULE_INFO, "app/Consumer.java", CONSUMER), modulePath);
    assertEquals(0, compiled.exitCode(), compiled.messages());

    List<String> runPath = new ArrayList<>(modulePath);
    runPath.add(0, compiled.classes().toString());
    Path cache = Files.createDirectories(tmp.resolve("javacpp-cache"));
    String output = FreshJvm.runModule("consumer", "app.Consumer", runPath,
        List.of("-Dorg.bytedeco.javacpp.cachedir=" + cache));

    assertTrue(output.contains("module=quipsharp.core"), output);
    assertTrue(output.contains("rows=32 decoded=2048"), output);
    assertTrue(output.contains("code=735c"), output); // QUIPSHARP.md §10.2.5
    assertTrue(output.contains("refused io.github.quipsharp.internal.Checks: "
        + "IllegalAccessException"), output);
    assertTrue(output.contains("not opened io.github.quipsharp.internal.Checks"), output);
    assertTrue(output.contains("refused io.github.quipsharp.bindings.QuipsharpNative: "
        + "IllegalAccessException"), output);
    assertTrue(output.contains("not opened io.github.quipsharp.bindings.QuipsharpNative"), output);

    FreshJvm.Compilation internal = FreshJvm.compileModule(tmp, "consumer2",
        Map.of("module-info.java", MODULE_INFO.replace("consumer", "consumer2"),
            "app/InternalUser.java", INTERNAL_USER), modulePath);
    assertNotEquals(0, internal.exitCode(), "compiling against io.github.quipsharp.internal");
    assertTrue(internal.messages().contains("package io.github.quipsharp.internal is not visible"),
        internal.messages());
  }

  /**
   * The packaged bindings and core jars and the jars of the modules core requires, from this test's
   * class path (failsafe puts the dependencies of quipsharp-core there).
   */
  private static List<String> moduleJars() {
    List<String> jars = new ArrayList<>();
    boolean bindings = false;
    boolean core = false;
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      String name = Path.of(entry).getFileName().toString();
      if (name.startsWith("quipsharp-bindings")) {
        assertTrue(name.endsWith(".jar"), "bindings must be the packaged jar (run mvn verify): "
            + entry);
        bindings = true;
        jars.add(entry);
      } else if (name.startsWith("quipsharp-core")) {
        if (name.contains("-tests")) {
          continue;
        }
        assertTrue(name.endsWith(".jar"), "core must be the packaged jar (run mvn verify): " + entry);
        core = true;
        jars.add(entry);
      } else if (name.matches("(javacpp|cuda|guava|failureaccess|jackson-(core|databind|annotations)"
          + "|tokenizers|jinjava)-[0-9].*\\.jar") && !name.contains("linux-x86_64")) {
        jars.add(entry);
      }
    }
    assertTrue(bindings && core, "class path lacks the module jars: " + jars);
    return jars;
  }
}
