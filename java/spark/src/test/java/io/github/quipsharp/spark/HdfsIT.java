package io.github.quipsharp.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.safetensors.SafetensorsFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver's remote paths against a real HDFS (a MiniDFSCluster in this JVM): the model folder,
 * the calibration text and {@code --out} all {@code hdfs://} URIs, the driver the packaged
 * quipsharp-spark-local.jar in a JVM of its own. The checkpoint read back from HDFS must be the
 * single-machine {@code quipsharp quantize} checkpoint byte for byte (config.json naming the HDFS
 * model as its source); a driver killed mid-run must leave only whole files under their final
 * names on HDFS and resume to the same bytes; bad HDFS paths get the one-line errors; the local
 * copy of an HDFS model that tasks memory-map follows the files on HDFS.
 *
 * <p>Phase A runs on one window chunk ({@code local[1]}, or {@code --partitions 1}): the Hessians
 * are then summed in the single machine's order, so both drivers give the same bits.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HdfsIT {
  static final long SEED = 11;
  /** Calibration windows of every run here (of 215): keeps Phase A short on a 2-core machine. */
  static final String SAMPLES = "48";
  /** A temporary file of {@link RunFolder#write}: {@code .<name>.tmp-<uuid>}. */
  static final Pattern TEMPORARY = Pattern.compile("\\..+\\.tmp-[0-9a-f-]{36}");

  @TempDir static Path tmp;
  Stories s;
  MiniHdfs hdfs;
  String model;
  String text;
  Path single;

  @BeforeAll
  void start() throws IOException {
    s = Stories.load();
    hdfs = MiniHdfs.start(tmp.resolve("dfs"));
    model = hdfs.put(s.model, "/models/stories260K-hf");
    text = hdfs.put(s.text, "/data/tinystories-sample.txt");
    single = tmp.resolve("single");
    Stories.Result m = Stories.cli("quantize", "--model", s.model.toString(), "--calibration",
        s.text.toString(), "--bits", "2", "--out", single.toString(), "--seed", Long.toString(SEED),
        "--samples", SAMPLES);
    assertEquals(0, m.code(), m.err());
  }

  @AfterAll
  void stop() {
    if (hdfs != null) {
      hdfs.close();
    }
  }

  /** The spark command for a 2-bit run with every path on HDFS. */
  private List<String> args(String master, String out, String... extra) {
    List<String> a = new ArrayList<>(List.of("quantize", "--master", master, "--model", model,
        "--calibration", text, "--bits", "2", "--out", hdfs.uri(out), "--seed", Long.toString(SEED),
        "--samples", SAMPLES));
    a.addAll(List.of(extra));
    return a;
  }

  /**
   * The local jar in a JVM of its own, with a modest heap and its temporary files (Spark's local
   * folders, the local copies of HDFS files) in a folder of this test.
   */
  private static ProcessBuilder driver(String name, List<String> args) throws IOException {
    ProcessBuilder pb = Stories.jar(args);
    Path scratch = Files.createDirectories(tmp.resolve("jvm-" + name));
    pb.command().addAll(1, List.of("-Xmx1g", "-Djava.io.tmpdir=" + scratch));
    return pb;
  }

  @Test
  void hadoopOfTheMiniClusterIsTheOneSparkBrings() throws IOException {
    assertEquals(mavenVersion("hadoop-client-api"), mavenVersion("hadoop-client-minicluster"));
  }

  private static String mavenVersion(String artifact) throws IOException {
    String resource = "META-INF/maven/org.apache.hadoop/" + artifact + "/pom.properties";
    try (InputStream in = HdfsIT.class.getClassLoader().getResourceAsStream(resource)) {
      assertTrue(in != null, resource + " is not on the test class path");
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version");
    }
  }

  @Test
  void everyPathOnHdfsGivesTheSingleMachineCheckpoint() throws Exception {
    String log = Stories.run(driver("clean", args("local[2]", "/runs/clean", "--partitions", "1")));
    assertTrue(log.contains("[hessians 5/5]") && log.contains("[quantize 20/20]"), log);
    assertSameCheckpoint("/runs/clean");
  }

  @Test
  void aKilledDriverLeavesWholeFilesAndResumesToTheSameCheckpoint() throws Exception {
    // local[1]: Phase B runs its 20 tasks one after the other, so the kill lands mid-phase.
    Process p = driver("killed", args("local[1]", "/runs/killed")).start();
    StringBuilder seen = new StringBuilder();
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        seen.append(line).append('\n');
        if (line.contains("[quantize 1/")) {
          p.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup, HDFS leases left open
          break;
        }
      }
    }
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertTrue(seen.toString().contains("[quantize 1/"), seen.toString());

    List<String> left = hdfs.files("/runs/killed");
    assertFalse(left.contains("config.json"), "the killed run finished: " + left);
    long shards = left.stream().filter(f -> f.startsWith(".partial/layers/")
        && f.endsWith(".safetensors") && !isTemporary(f)).count();
    assertTrue(shards >= 1 && shards < 20, shards + " shards before the kill: " + left);
    assertWholeFiles("/runs/killed", left);

    String resumed = Stories.run(driver("resumed", args("local[1]", "/runs/killed", "--resume")));
    assertTrue(resumed.contains("resuming the interrupted run"), resumed);
    assertFalse(resumed.contains("Phase A: Hessians"), "Phase A ran again: " + resumed);
    assertSameCheckpoint("/runs/killed");
  }

  /**
   * In this JVM, like BadInputTest: each bad path is refused with one line before a Spark context
   * starts. The driver's local copy of the HDFS model goes to java.io.tmpdir, here a folder of this
   * test.
   */
  @Test
  void badHdfsPathsGetOneLineErrorsAndChangeNothing() throws Exception {
    String tmpdir = System.getProperty("java.io.tmpdir");
    System.setProperty("java.io.tmpdir", Files.createDirectories(tmp.resolve("jvm-bad")).toString());
    try {
      String out = "/runs/bad";
      rejected(with(args("local[1]", out), "--model", hdfs.uri("/models/none")),
          "--model " + hdfs.uri("/models/none") + " does not exist");
      rejected(with(args("local[1]", out), "--calibration", hdfs.uri("/data/none.txt")),
          "calibration file " + hdfs.uri("/data/none.txt") + " does not exist");
      assertFalse(hdfs.fs().exists(new org.apache.hadoop.fs.Path(out)), "created " + out);

      hdfs.put(s.text, "/runs/full/keep.txt");
      rejected(args("local[1]", "/runs/full"),
          "--out " + hdfs.uri("/runs/full") + " exists and is not empty");
      rejected(args("local[1]", "/runs/full/keep.txt"),
          "--out " + hdfs.uri("/runs/full/keep.txt") + " is a file, not a folder");
      assertEquals(List.of("keep.txt"), hdfs.files("/runs/full"));

      // An interrupted run's folder: refused without --resume, and with other settings.
      try (var o = hdfs.fs().create(new org.apache.hadoop.fs.Path("/runs/old/.partial/run.json"))) {
        o.write("{\"windows\": 1}".getBytes(StandardCharsets.UTF_8));
      }
      rejected(args("local[1]", "/runs/old"),
          hdfs.uri("/runs/old") + " holds an interrupted run; pass --resume");
      rejected(args("local[1]", "/runs/old", "--resume"),
          "cannot resume in " + hdfs.uri("/runs/old") + ": the interrupted run used other settings");
      assertEquals(List.of(".partial/run.json"), hdfs.files("/runs/old"));
    } finally {
      System.setProperty("java.io.tmpdir", tmpdir);
    }
  }

  /**
   * The local copy that tasks memory-map of a model folder on HDFS: the same bytes, made once,
   * and made again when a file at the same URI is replaced (never the stale copy).
   */
  @Test
  void aLocalCopyHoldsTheBytesOnHdfsNowAndIsRenewedWhenTheyChange() throws Exception {
    String tmpdir = System.getProperty("java.io.tmpdir");
    Path cache = Files.createDirectories(tmp.resolve("jvm-copies"));
    System.setProperty("java.io.tmpdir", cache.toString());
    try {
      String uri = hdfs.put(s.model, "/copies/stories260K-hf");
      Path first = LocalCopies.of(uri);
      Stories.assertSameFiles(s.model, first);
      assertEquals(first, LocalCopies.of(uri));

      byte[] other = "not the tokenizer".getBytes(StandardCharsets.UTF_8);
      try (var o = hdfs.fs().create(new org.apache.hadoop.fs.Path("/copies/stories260K-hf/tok512.bin"), true)) {
        o.write(other);
      }
      Path second = LocalCopies.of(uri);
      assertFalse(second.equals(first), "the copy of the replaced file was reused: " + second);
      org.junit.jupiter.api.Assertions.assertArrayEquals(other, Files.readAllBytes(second.resolve("tok512.bin")));
      org.junit.jupiter.api.Assertions.assertArrayEquals(Files.readAllBytes(s.model.resolve("model.safetensors")),
          Files.readAllBytes(second.resolve("model.safetensors")));
      try (var l = Files.list(cache.resolve("quipsharp-spark-copies"))) {
        List<String> left = l.map(f -> f.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList();
        assertEquals(List.of(), left, "temporary copies left behind");
      }
    } finally {
      System.setProperty("java.io.tmpdir", tmpdir);
    }
  }

  /**
   * A cluster names its HDFS by a logical nameservice that only its Hadoop settings resolve; given
   * as {@code spark.hadoop.*} properties (what spark-submit --conf sets), the driver reaches it:
   * it reads the model and the text there and finds the non-empty --out.
   */
  @Test
  void aNameserviceFromSparkHadoopPropertiesIsReached() throws Exception {
    String ns = "quipsharp-test";
    java.util.Map<String, String> props = java.util.Map.of(
        "spark.hadoop.dfs.nameservices", ns,
        "spark.hadoop.dfs.ha.namenodes." + ns, "nn1",
        "spark.hadoop.dfs.namenode.rpc-address." + ns + ".nn1", hdfs.fs().getUri().getAuthority(),
        "spark.hadoop.dfs.client.failover.proxy.provider." + ns,
        "org.apache.hadoop.hdfs.server.namenode.ha.ConfiguredFailoverProxyProvider",
        "java.io.tmpdir", Files.createDirectories(tmp.resolve("jvm-nameservice")).toString());
    java.util.Map<String, String> saved = new java.util.HashMap<>();
    props.keySet().forEach(k -> saved.put(k, System.getProperty(k)));
    props.forEach(System::setProperty);
    try {
      hdfs.put(s.text, "/runs/ns-full/keep.txt");
      String root = "hdfs://" + ns;
      rejected(List.of("quantize", "--master", "local[1]", "--model", root + "/models/stories260K-hf",
          "--calibration", root + "/data/tinystories-sample.txt", "--bits", "2",
          "--out", root + "/runs/ns-full"), "--out " + root + "/runs/ns-full exists and is not empty");
    } finally {
      saved.forEach((k, v) -> {
        if (v == null) {
          System.clearProperty(k);
        } else {
          System.setProperty(k, v);
        }
      });
    }
  }

  private static List<String> with(List<String> args, String option, String value) {
    List<String> a = new ArrayList<>(args);
    a.set(a.indexOf(option) + 1, value);
    return a;
  }

  /** Exit code 2 and one line, {@code error: <message>...}, before any Spark context starts. */
  private static void rejected(List<String> args, String message) {
    Stories.Result r = Stories.spark(false, args);
    assertEquals(2, r.code(), r.out() + r.err());
    String err = r.err().strip();
    assertEquals(1, err.lines().count(), err);
    assertTrue(err.startsWith("error: " + message), "expected error: " + message + "..., got " + err);
    // The driver prints "Spark <version>, master ..." right after its context starts.
    assertFalse(r.out().contains("Spark "), "a Spark context was started: " + r.out());
  }

  private static boolean isTemporary(String relative) {
    return TEMPORARY.matcher(relative.substring(relative.lastIndexOf('/') + 1)).matches();
  }

  /**
   * Every file of an interrupted run under its final name is whole: run.json parses, every Hessian
   * file reads as an n × n sum (a summed one over all the run's tokens), every shard is a
   * safetensors file whose tensors end where the file ends. Anything else is a temporary file.
   */
  private void assertWholeFiles(String run, List<String> files) throws IOException {
    Path local = hdfs.get(run, tmp.resolve("inspect" + run.replace('/', '-')));
    com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
    int windows = json.readTree(local.resolve(".partial/run.json").toFile()).path("windows").asInt();
    assertTrue(windows > 0, "run.json names no windows");
    io.github.quipsharp.model.LlamaConfig config;
    try (var src = io.github.quipsharp.model.ModelSource.open(s.model)) {
      config = src.config();
    }
    for (String f : files) {
      Path file = local.resolve(f);
      String name = file.getFileName().toString();
      if (isTemporary(f)) {
        continue; // the write the kill cut short: never renamed into place
      } else if (f.equals(".partial/run.json")) {
        continue; // parsed above
      } else if (f.startsWith(".partial/hessians/") || f.startsWith(".partial/scratch/")) {
        // {l}_{g}.safetensors in the one Hessian format: read whole, n × n, the tokens it covers
        String group = name.substring(name.indexOf('_') + 1, name.indexOf('.'));
        int n = io.github.quipsharp.LinearGroup.ofKey(group).cols(config);
        io.github.quipsharp.internal.HessianSum h =
            io.github.quipsharp.pipeline.LocalHessianStore.readFile(file);
        assertEquals(n, h.n(), f);
        if (f.startsWith(".partial/hessians/")) {
          assertEquals(windows * 256L, h.tokens(), f);
        }
      } else if (f.startsWith(".partial/layers/") && name.endsWith(".safetensors")) {
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
          long end = 0;
          for (var t : st.tensors()) {
            end = Math.max(end, t.end()); // from the start of the file
          }
          assertEquals(Files.size(file), end, f);
        }
      } else {
        throw new AssertionError("unexpected file " + f + " in the interrupted run: " + files);
      }
    }
  }

  /**
   * A checkpoint's config.json with its source model {@code from} renamed {@code to}: the field
   * and its CRC32C in quipsharp.integrity.config (of the JSON string, as CheckpointIntegrity
   * records each field).
   */
  private static String withSourceModel(String config, String from, String to) {
    String field = "\"source_model\" : \"%s\"";
    String digest = "\"quipsharp.source_model\" : \"%s\"";
    String out = replaceOnce(config, String.format(field, from), String.format(field, to));
    return replaceOnce(out, String.format(digest, crc32c("\"" + from + "\"")),
        String.format(digest, crc32c("\"" + to + "\"")));
  }

  private static String replaceOnce(String s, String from, String to) {
    int at = s.indexOf(from);
    assertTrue(at >= 0 && s.indexOf(from, at + 1) < 0, "config.json holds " + from + " not once");
    return s.substring(0, at) + to + s.substring(at + from.length());
  }

  private static String crc32c(String s) {
    java.util.zip.CRC32C c = new java.util.zip.CRC32C();
    c.update(s.getBytes(StandardCharsets.UTF_8));
    return String.format("%08x", c.getValue());
  }

  private static String around(byte[] b, int at) {
    int from = Math.max(0, at - 120);
    return new String(b, from, Math.min(b.length, at + 60) - from, StandardCharsets.UTF_8);
  }

  /**
   * The run folder on HDFS holds exactly the single-machine checkpoint's files (nothing hidden, no
   * .partial): the same bytes, config.json differing only in its source model, the HDFS URI.
   */
  private void assertSameCheckpoint(String run) throws IOException {
    List<String> expected;
    try (var l = Files.list(single)) {
      expected = l.map(f -> f.getFileName().toString()).sorted().toList();
    }
    assertEquals(expected, hdfs.files(run), "files of " + run);
    Path got = hdfs.get(run, tmp.resolve("fetched" + run.replace('/', '-')));
    for (String n : expected) {
      byte[] want = Files.readAllBytes(single.resolve(n));
      if (n.equals("config.json")) {
        want = withSourceModel(new String(want, StandardCharsets.UTF_8),
            s.model.toAbsolutePath().normalize().toString(), model).getBytes(StandardCharsets.UTF_8);
      }
      byte[] have = Files.readAllBytes(got.resolve(n));
      if (!java.util.Arrays.equals(want, have)) {
        int at = java.util.Arrays.mismatch(want, have);
        throw new AssertionError(n + " of " + run + " differs from the single-machine run's at byte "
            + at + (n.endsWith(".json") ? ": ..." + around(want, at) + "... vs ..." + around(have, at)
            + "..." : ""));
      }
    }
  }
}
