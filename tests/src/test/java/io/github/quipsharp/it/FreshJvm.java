package io.github.quipsharp.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/**
 * A one-class consumer program compiled against the packaged jars and run in a fresh JVM whose
 * class path holds only those jars and the consumer, without LD_LIBRARY_PATH.
 */
final class FreshJvm {
  private FreshJvm() {}

  /**
   * Compiles {@code source} (class {@code name}, default package) against {@code jars}, runs it
   * with {@code jvmOptions} and {@code args}, and returns its output (stdout and stderr) after
   * checking that it ended with exit code 0 within two minutes.
   *
   * @param unsetEnv environment variables the child must not inherit
   */
  static String run(Path tmp, String name, String source, List<String> jars,
      List<String> jvmOptions, List<String> args, String... unsetEnv) throws Exception {
    Path src = tmp.resolve("src").resolve(name + ".java");
    Files.createDirectories(src.getParent());
    Files.writeString(src, source, StandardCharsets.UTF_8);
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertNotNull(javac, "a JDK (not a JRE) is needed to compile the consumer");
    int rc =
        javac.run(
            null, null, null, "-cp", String.join(File.pathSeparator, jars), "-d",
            classes.toString(), src.toString());
    assertEquals(0, rc, "consumer compiles against the packaged jars");

    List<String> cp = new ArrayList<>(jars);
    cp.add(0, classes.toString());
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("-cp");
    command.add(String.join(File.pathSeparator, cp));
    command.add(name);
    command.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().remove("LD_LIBRARY_PATH");
    pb.environment().remove("JAVA_TOOL_OPTIONS");
    for (String v : unsetEnv) {
      pb.environment().remove(v);
    }
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "consumer finished");
    assertEquals(0, p.exitValue(), "consumer exit code; output:\n" + output);
    return output;
  }

  /**
   * Compiles the module {@code module} from {@code sources} (relative path to text, module-info.java
   * included) with {@code modulePath} as its module path; returns javac's exit code and messages.
   */
  static Compilation compileModule(Path tmp, String module, Map<String, String> sources,
      List<String> modulePath) throws IOException {
    Path src = tmp.resolve("src-" + module);
    List<String> args = new ArrayList<>(List.of("--module-path",
        String.join(File.pathSeparator, modulePath), "-d", tmp.resolve("mods").resolve(module)
            .toString()));
    for (Map.Entry<String, String> e : sources.entrySet()) {
      Path f = src.resolve(e.getKey());
      Files.createDirectories(f.getParent());
      Files.writeString(f, e.getValue(), StandardCharsets.UTF_8);
      args.add(f.toString());
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertNotNull(javac, "a JDK (not a JRE) is needed to compile the consumer");
    ByteArrayOutputStream messages = new ByteArrayOutputStream();
    int rc = javac.run(null, messages, messages, args.toArray(new String[0]));
    return new Compilation(rc, messages.toString(StandardCharsets.UTF_8),
        tmp.resolve("mods").resolve(module));
  }

  /** What {@link #compileModule} gave: javac's exit code, its messages and the classes folder. */
  record Compilation(int exitCode, String messages, Path classes) {}

  /**
   * Runs {@code mainClass} of module {@code module} in a fresh JVM whose module path is {@code
   * modulePath} (nothing on the class path), with {@code jvmOptions}; returns its output after
   * checking that it ended with exit code 0 within two minutes.
   */
  static String runModule(String module, String mainClass, List<String> modulePath,
      List<String> jvmOptions) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.add("--module-path");
    command.add(String.join(File.pathSeparator, modulePath));
    command.add("--module");
    command.add(module + "/" + mainClass);
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().remove("LD_LIBRARY_PATH");
    pb.environment().remove("JAVA_TOOL_OPTIONS");
    pb.environment().remove("CLASSPATH");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "consumer finished");
    assertEquals(0, p.exitValue(), "consumer exit code; output:\n" + output);
    return output;
  }

  /**
   * Java statements for a consumer's main method that print "mapped=PATH" for the first mapping of
   * {@code library} in /proc/self/maps (the consumer imports java.nio.file.*).
   */
  static String printMappedLibrary(String library) {
    return String.join(
        "\n",
        "    for (String line : Files.readAllLines(Paths.get(\"/proc/self/maps\"))) {",
        "      if (line.contains(\"" + library + "\")) {",
        "        System.out.println(\"mapped=\" + line.substring(line.indexOf('/')));",
        "        break;",
        "      }",
        "    }");
  }

  /** The path after "mapped=" on the output line the consumer printed from /proc/self/maps. */
  static Path mappedLibrary(String output) {
    String mapped =
        output.lines().filter(l -> l.startsWith("mapped=")).findFirst().orElse("mapped=<none>");
    return Path.of(mapped.substring("mapped=".length()).trim());
  }
}
