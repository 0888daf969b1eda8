package io.github.quipsharp.cli;

import static io.github.quipsharp.testing.ModelEdits.digests;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.LayerReport;
import io.github.quipsharp.ModelQuantizer;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.testing.ModelEdits;
import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bad-input corpus of the "nothing silently wrong" issue: one test per case 1–15, each running
 * the command line as a user would and asserting the exit code, the one-line {@code error:}
 * message (and what it names), and that no output was written or changed (digests of the folders
 * before and after). Built from stories260K-hf and tinystories-sample.txt (skipped when
 * shared/models is absent) and small edits of them.
 */
class BadInputCorpusTest {
  @TempDir static Path shared;
  @TempDir Path tmp;

  static Path model;
  static Path text;
  static Path checkpoint;

  /** Settings of every quantize run here: small and fast (4 windows of 64 tokens). */
  static final String[] SMALL = {"--bits", "2", "--seed", "1", "--ctx", "64", "--samples", "4"};

  @BeforeAll
  static void quantizeOnce() throws IOException {
    model = SharedModels.require("stories260K-hf");
    // The first 8 KB of the sample (about 2,000 tokens) keep every run short.
    String all = Files.readString(SharedModels.require("tinystories-sample.txt"));
    text = Files.writeString(shared.resolve("short.txt"), all.substring(0, 8192));
    checkpoint = shared.resolve("ck");
    run(0, cat(new String[] {"quantize", "--model", model.toString(), "--calibration",
        text.toString(), "--out", checkpoint.toString()}, SMALL));
  }

  // ---- helpers ------------------------------------------------------------------------------

  record Result(int code, String out, String err) {}

  static Result run(int expected, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    assertEquals(expected, rc, "exit code of " + String.join(" ", args) + "\nstdout:\n" + out
        + "\nstderr:\n" + err);
    return new Result(rc, out.toString(), err.toString());
  }

  static String[] cat(String[] a, String... b) {
    String[] all = new String[a.length + b.length];
    System.arraycopy(a, 0, all, 0, a.length);
    System.arraycopy(b, 0, all, a.length, b.length);
    return all;
  }

  /** The lines of stderr as a terminal shows them (a progress bar redraws its line after \r). */
  static List<String> shownLines(String err) {
    List<String> lines = new ArrayList<>();
    for (String line : err.split("\n")) {
      String shown = line.substring(line.lastIndexOf('\r') + 1).strip();
      if (!shown.isEmpty()) {
        lines.add(shown);
      }
    }
    return lines;
  }

  /**
   * Runs a command that must be refused: exit code 2, exactly one error line (the last line shown,
   * starting with "error: ", containing each of {@code fragments}), nothing on stdout, and the
   * folders or files in {@code unchanged} exactly as before. Returns the error line.
   */
  static String refused(List<Path> unchanged, String[] args, String... fragments)
      throws IOException {
    List<Map<String, String>> before = new ArrayList<>();
    for (Path p : unchanged) {
      before.add(digests(p));
    }
    Result r = run(2, args);
    String line = errorLine(r.err());
    for (String f : fragments) {
      assertTrue(line.contains(f), "the error should name '" + f + "': " + line);
    }
    assertEquals("", r.out(), "stdout of a refused command");
    for (int i = 0; i < unchanged.size(); i++) {
      assertEquals(before.get(i), digests(unchanged.get(i)), unchanged.get(i) + " changed");
    }
    return line;
  }

  /** The one error line of stderr (asserted: exactly one, the last, starting with "error: "). */
  static String errorLine(String err) {
    List<String> lines = shownLines(err);
    List<String> errors = lines.stream().filter(l -> l.contains("error")).toList();
    assertEquals(1, errors.size(), "one error line expected in:\n" + err);
    String last = lines.get(lines.size() - 1);
    assertEquals(errors.get(0), last, "the error line comes last:\n" + err);
    assertTrue(last.startsWith("error: "), last);
    return last;
  }

  Path copyOf(Path dir, String name) throws IOException {
    Path dst = tmp.resolve(name);
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.toList()) {
        Path q = dst.resolve(dir.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(q);
        } else {
          Files.copy(p, q);
        }
      }
    }
    return dst;
  }

  /** {@code args} with the value after {@code flag} replaced. */
  static String[] with(String[] args, String flag, String value) {
    String[] a = args.clone();
    a[java.util.Arrays.asList(a).indexOf(flag) + 1] = value;
    return a;
  }

  String[] ppl(Path m, String... more) {
    return cat(new String[] {"ppl", "--model", m.toString(), "--text", text.toString()}, more);
  }

  String[] quantize(Path m, Path out, String... more) {
    return cat(cat(new String[] {"quantize", "--model", m.toString(), "--calibration",
        text.toString(), "--out", out.toString()}, SMALL), more);
  }

  /**
   * A run interrupted after its first {@code groups} layer groups, made through the API with the
   * settings the command line uses for {@link #SMALL} (so that {@code quantize --resume} meets it).
   */
  static void interruptedRun(Path m, Path out, int groups) throws IOException {
    int[] all = Tokenizer.forModel(m).encode(Files.readString(text), true, false);
    int[] cal = CalibrationSplit.calibration(all, 0.75);
    QuantConfig cfg = QuantConfig.builder().bits(2).seed(1).build();
    ProgressListener stop = new ProgressListener() {
      @Override
      public void layerFinished(LayerReport r, int index, int total, boolean resumed) {
        if (index + 1 == groups) {
          throw new IllegalStateException("interrupted");
        }
      }
    };
    try {
      ModelQuantizer.quantize(m, cal, cfg, out, ModelQuantizer.Options.builder().ctx(64).samples(4)
          .listener(stop).build());
    } catch (IllegalStateException e) {
      assertEquals("interrupted", e.getMessage());
    }
    assertTrue(Files.exists(out.resolve(".partial/layers/0_qkv.safetensors")), "a group was saved");
  }

  /** Rewrites a copy of the shared checkpoint with one tensor's bytes changed. */
  Path checkpointWith(String name, String tensor, java.util.function.Consumer<byte[]> edit)
      throws IOException {
    Path c = copyOf(checkpoint, name);
    ModelEdits.editBytes(c.resolve("model.safetensors"), tensor, edit);
    return c;
  }

  static boolean mkfifo(Path p) throws IOException, InterruptedException {
    try {
      return new ProcessBuilder("mkfifo", p.toString()).start().waitFor() == 0;
    } catch (IOException e) {
      return false;
    }
  }

  // ---- 1. exit 0 with a wrong result -------------------------------------------------------

  @Test
  void case01ResumeRefusesAnotherModelWithTheSameShapes() throws Exception {
    Path a = ModelEdits.copyWith(model, tmp.resolve("a"), Map.of());
    Path out = tmp.resolve("out");
    interruptedRun(a, out, 3);
    // Model B has the same shapes; only one weight matrix differs.
    Path b = ModelEdits.copyWith(model, tmp.resolve("b"),
        Map.of("model.layers.1.self_attn.q_proj.weight", ModelEdits.scaled(1.001f)));
    Path saved = tmp.resolve("a-weights");
    Files.copy(a.resolve("model.safetensors"), saved);
    Files.copy(b.resolve("model.safetensors"), a.resolve("model.safetensors"),
        StandardCopyOption.REPLACE_EXISTING);
    refused(List.of(out), quantize(a, out, "--resume"), "cannot resume",
        "model file model.safetensors differs", "crc32c");
    // The same run with model A's weights back is resumed: the refusal was about the model.
    Files.copy(saved, a.resolve("model.safetensors"), StandardCopyOption.REPLACE_EXISTING);
    Result r = run(0, quantize(a, out, "--resume"));
    assertTrue(r.out().contains("(saved before, resumed)"), r.out());
  }

  @Test
  void case02CorruptCheckpointsAreRefusedNamingTheTensorOrField() throws Exception {
    String qidxs = "model.layers.1.mlp.down_proj.Qidxs";
    Path flipped = checkpointWith("flipped", qidxs, b -> {
      for (int i = 16; i < 32; i++) {
        b[i] ^= (byte) 0xff;
      }
    });
    Path swapped = copyOf(checkpoint, "swapped");
    ModelEdits.swap(swapped.resolve("model.safetensors"), "model.layers.0.self_attn.o_proj.Qidxs",
        "model.layers.1.self_attn.o_proj.Qidxs");
    Path wscale = checkpointWith("wscale", "model.layers.2.self_attn.qkv_proj.Wscale",
        b -> ModelEdits.putF16(b, 0, 65504f));
    Path su = checkpointWith("su", "model.layers.3.mlp.upgate_proj.SU",
        b -> java.util.Arrays.fill(b, (byte) 0));
    Path rope = copyOf(checkpoint, "rope");
    ModelEdits.editJson(rope.resolve("config.json"), o -> {
      ObjectNode q = (ObjectNode) o.get("quipsharp");
      q.put("rope_interleaved", !q.get("rope_interleaved").asBoolean());
    });
    Object[][] cases = {
        {flipped, qidxs}, {swapped, "self_attn.o_proj.Qidxs"},
        {wscale, "model.layers.2.self_attn.qkv_proj.Wscale"},
        {su, "model.layers.3.mlp.upgate_proj.SU"}, {rope, "quipsharp.rope_interleaved"}};
    for (Object[] c : cases) {
      Path ck = (Path) c[0];
      String named = (String) c[1];
      refused(List.of(ck), ppl(ck, "--max-tokens", "300"), named, "--no-verify");
      refused(List.of(ck), new String[] {"generate", "--model", ck.toString(), "--max-tokens", "5"},
          named);
      refused(List.of(ck), new String[] {"inspect", "--model", ck.toString(), "--verify"}, named);
    }
    // The untouched checkpoint verifies, and --no-verify loads a changed one on purpose.
    Result ok = run(0, "inspect", "--model", checkpoint.toString(), "--verify");
    assertTrue(ok.out().contains("verified 122 tensors"), ok.out());
    run(0, ppl(flipped, "--max-tokens", "300", "--no-verify"));
    // A checkpoint without digests (older, or of the reference layout) loads with one warning.
    Path old = copyOf(checkpoint, "old");
    ModelEdits.editJson(old.resolve("config.json"),
        o -> ((ObjectNode) o.get("quipsharp")).remove("integrity"));
    Result r = run(0, ppl(old, "--max-tokens", "300"));
    List<String> warnings = shownLines(r.err()).stream().filter(l -> l.startsWith("warning")).toList();
    assertEquals(1, warnings.size(), r.err());
    assertTrue(warnings.get(0).contains("has no digests"), warnings.get(0));
  }

  @Test
  void case03QuantizeRefusesATensorThatDoesNotFitFp16() throws Exception {
    Path big = ModelEdits.copyWith(model, tmp.resolve("bignorm"), Map.of("model.norm.weight", v -> {
      float[] w = v.clone();
      w[3] = 1e5f;
      return w;
    }));
    Path out = tmp.resolve("out");
    refused(List.of(out, big), quantize(big, out), "model.norm.weight", "fp16", "100000.0");
    assertFalse(Files.exists(out));
  }

  /** stories260K with layer 2's gate and up weights times 1e25: layer 2's SwiGLU overflows. */
  Path overflowing() throws IOException {
    return ModelEdits.copyWith(model, tmp.resolve("overflow"), Map.of(
        "model.layers.2.mlp.gate_proj.weight", ModelEdits.scaled(1e25f),
        "model.layers.2.mlp.up_proj.weight", ModelEdits.scaled(1e25f)));
  }

  @Test
  void case04NonFiniteActivationsStopPplAndGenerateNamingTheLayer() throws Exception {
    Path m = overflowing();
    refused(List.of(m), ppl(m, "--json"), "layer 2", "non-finite");
    refused(List.of(m), new String[] {"generate", "--model", m.toString(), "--prompt",
        "Once upon a time"}, "layer 2", "non-finite");
  }

  /** A copy of stories260K-hf whose config.json {@code edit} changed. */
  Path withConfig(String name, java.util.function.Consumer<ObjectNode> edit) throws IOException {
    Path m = copyOf(model, name);
    ModelEdits.editJson(m.resolve("config.json"), edit);
    return m;
  }

  static double pplOf(Result r) throws IOException {
    String[] lines = r.out().strip().split("\n");
    return new com.fasterxml.jackson.databind.ObjectMapper().readTree(lines[lines.length - 1])
        .get("ppl").asDouble();
  }

  @Test
  void case05ConfigFieldsThatChangeTheMathAreUsedOrRefused() throws Exception {
    // transformers 5 keeps rope_theta in rope_parameters: read from there, not the default 10000.
    Path rp = withConfig("rope-parameters", o -> {
      o.remove("rope_theta");
      o.putObject("rope_parameters").put("rope_type", "default").put("rope_theta", 5000.0);
    });
    Result r = run(0, "inspect", "--model", rp.toString());
    assertTrue(r.out().contains("(theta 5000)"), r.out());
    refused(List.of(model), ppl(withConfig("fast", o -> o.put("rope_theta", "fast"))),
        "rope_theta", "fast");
    refused(List.of(model), ppl(withConfig("fewer", o -> o.put("num_hidden_layers", 3))),
        "num_hidden_layers = 3", "5 layers");
    refused(List.of(model), ppl(withConfig("ctx0", o -> o.put("max_position_embeddings", 0))),
        "max_position_embeddings");
    // Mistral's sliding window: no effect on windows shorter than it, an effect on longer ones.
    Path sw = withConfig("sw", o -> {
      o.putArray("architectures").add("MistralForCausalLM");
      o.put("model_type", "mistral");
      o.put("sliding_window", 16);
    });
    Path full = withConfig("nosw", o -> {
      o.putArray("architectures").add("MistralForCausalLM");
      o.put("model_type", "mistral");
      o.putNull("sliding_window");
    });
    String[] shortWindows = {"--ctx", "8", "--max-tokens", "400", "--json"};
    assertEquals(pplOf(run(0, ppl(full, shortWindows))), pplOf(run(0, ppl(sw, shortWindows))),
        1e-9);
    String[] longWindows = {"--ctx", "256", "--max-tokens", "600", "--json"};
    double a = pplOf(run(0, ppl(full, longWindows)));
    double b = pplOf(run(0, ppl(sw, longWindows)));
    assertTrue(Math.abs(a - b) > 1e-3 * a, "sliding_window 16 changes ppl at ctx 256: " + a + " " + b);
  }

  @Test
  void case06ContextBeyondTheModelIsRefusedOrExplicitlyAllowed() throws Exception {
    refused(List.of(model), ppl(model, "--ctx", "100000"), "--ctx 100000", "context length 512",
        "--allow-longer-context");
    Path out = tmp.resolve("out");
    String[] q = with(quantize(model, out), "--ctx", "1024");
    refused(List.of(out), q, "--ctx 1024", "context length 512");
    assertFalse(Files.exists(out));
    Result r = run(0, ppl(model, "--ctx", "600", "--max-tokens", "700", "--allow-longer-context"));
    assertTrue(shownLines(r.err()).stream().anyMatch(l -> l.startsWith("warning: --ctx 600")), r.err());
  }

  // ---- 7-9 ----------------------------------------------------------------------------------

  @Test
  void case07FifosAreRefusedInsteadOfHanging() throws Exception {
    Path fifo = tmp.resolve("text.fifo");
    assumeTrue(mkfifo(fifo), "skipped: mkfifo is not available");
    assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
      refused(List.of(tmp), new String[] {"ppl", "--model", model.toString(), "--text",
          fifo.toString()}, "FIFO");
      Path m = copyOf(model, "fifo-model");
      Files.delete(m.resolve("model.safetensors"));
      assertTrue(mkfifo(m.resolve("model.safetensors")));
      refused(List.of(m), ppl(m), "model.safetensors", "FIFO");
      refused(List.of(m), new String[] {"inspect", "--model", m.toString()}, "FIFO");
    });
  }

  @Test
  void case08SynthModelRefusesAFolderThatHoldsAnything() throws Exception {
    Path out = Files.createDirectories(tmp.resolve("synth"));
    Files.writeString(out.resolve("tokenizer.json"), "{\"model\": {\"type\": \"BPE\"}}");
    refused(List.of(out), new String[] {"synth-model", "--dim", "64", "--hidden", "128",
        "--layers", "1", "--heads", "4", "--kv-heads", "4", "--vocab", "300", "--out",
        out.toString()}, "not empty", "tokenizer.json");
  }

  @Test
  void case09ACutLayerListIsRefused() throws Exception {
    // With digests the changed field is named; without (an older checkpoint), the list is checked.
    for (boolean digests : new boolean[] {true, false}) {
      Path c = copyOf(checkpoint, "cut-" + digests);
      ModelEdits.editJson(c.resolve("config.json"), o -> {
        ObjectNode q = (ObjectNode) o.get("quipsharp");
        ArrayNode layers = (ArrayNode) q.get("layers");
        while (layers.size() > 5) {
          layers.remove(layers.size() - 1);
        }
        if (!digests) {
          q.remove("integrity");
        }
      });
      refused(List.of(c), new String[] {"inspect", "--model", c.toString()},
          digests ? "quipsharp.layers" : "lists 5 of the 20 layer groups");
    }
  }

  // ---- 10-15: errors that are one clear line ------------------------------------------------

  @Test
  void case10InvalidJsonIsOneLine() throws Exception {
    Path m = copyOf(model, "badjson");
    Files.writeString(m.resolve("config.json"), "{\"hidden_size\": 64,\n  \"oops\n");
    refused(List.of(m), ppl(m), "config.json", "is not valid JSON");
    Path sharded = copyOf(model, "badindex");
    Files.move(sharded.resolve("model.safetensors"),
        sharded.resolve("model-00001-of-00001.safetensors"));
    Files.writeString(sharded.resolve("model.safetensors.index.json"), "{\"weight_map\": {,}}");
    refused(List.of(sharded), ppl(sharded), "model.safetensors.index.json", "is not valid JSON");
  }

  @Test
  void case11BadFlagValuesAreOneLineWithAHint() throws Exception {
    Path out = tmp.resolve("out");
    refused(List.of(out), quantize(model, out, "--rounding", "bogus"), "--rounding", "bogus",
        "see quipsharp quantize --help");
    refused(List.of(out), quantize(model, out, "--seed", "abc"), "--seed", "abc",
        "see quipsharp quantize --help");
    refused(List.of(out), new String[] {"ppl", "--model", model.toString()}, "--text",
        "see quipsharp ppl --help");
  }

  @Test
  void case12ResumeNamesTheSettingThatDiffers() throws Exception {
    Path out = tmp.resolve("out");
    interruptedRun(model, out, 2);
    refused(List.of(out), with(quantize(model, out, "--resume"), "--bits", "3"), "other settings",
        "quant_config.bits (--bits) was 2, now 3");
    refused(List.of(out), with(quantize(model, out, "--resume"), "--ctx", "32"),
        "ctx (--ctx) was 64, now 32");
  }

  @Test
  void case13AFailedRunLeavesNothingOrSaysHowToGoOn() throws Exception {
    // Fails in the Hessian collection, before any group: nothing is left, so the next run is
    // refused for the same reason and not told to resume.
    Path m = overflowing();
    Path out = tmp.resolve("out");
    for (int attempt = 0; attempt < 2; attempt++) {
      Result r = run(2, quantize(m, out));
      String line = errorLine(r.err());
      assertTrue(line.contains("layer 2") && !line.contains("--resume"), line);
      assertFalse(Files.exists(out), "nothing left behind");
    }
    // Fails after layers 0 and 1 are saved (layer 2's gate RMS does not fit fp16): the finished
    // groups are kept, and the error says how to continue or start over.
    Path late = ModelEdits.copyWith(model, tmp.resolve("late"),
        Map.of("model.layers.2.mlp.gate_proj.weight", ModelEdits.scaled(1e30f)));
    Result r = run(2, quantize(late, out));
    String line = errorLine(r.err());
    assertTrue(line.contains("fp16") && line.contains("--resume continues")
        && line.contains("deleting " + out), line);
    assertTrue(Files.exists(out.resolve(".partial/layers/1_down.safetensors")));
  }

  @Test
  void case14OutOfMemoryIsRefusedUpFrontNamingWhatToLower() throws Exception {
    long heap = Runtime.getRuntime().maxMemory();
    Path huge = tmp.resolve("huge.txt");
    try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
      f.setLength(Math.min(heap / 4, Integer.MAX_VALUE - 16L)); // sparse: no disk space used
    }
    // (ppl writes nothing; the model folder is watched: hashing the sparse text would take long)
    refused(List.of(model), new String[] {"ppl", "--model", model.toString(), "--text",
        huge.toString()}, "huge.txt", "too large for this JVM's heap", "bytes");
    int n = 46340; // the largest square whose Hessian still fits one Java array
    assumeTrue(12.0 * n * n > heap, "skipped: this JVM's heap holds a 46340^2 matrix");
    refused(List.of(model), new String[] {"quantize-matrix", "--rows", "" + n, "--cols", "" + n},
        "GiB of Java heap", "lower --rows / --cols");
    assertTrue(Main.outOfMemory("ppl").contains("lower --ctx or --max-tokens"));
  }

  /**
   * An out-of-memory error that no estimate foresaw (a 16 MiB heap, a 1.9 MB text that passes the
   * up-front check): one line naming what to lower, exit code 2, no stack trace. Forked, so that
   * this JVM's heap is not the one that runs out.
   */
  @Test
  void case14OutOfMemoryAnywhereIsOneLine() throws Exception {
    String all = Files.readString(SharedModels.require("tinystories-sample.txt"));
    Path text = tmp.resolve("b.txt");
    Files.writeString(text, all.repeat(14).substring(0, 1_900_000));
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Xmx16m", "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "ppl", "--model", model.toString(), "--text", text.toString(),
        "--max-tokens", "1000").redirectOutput(tmp.resolve("out.txt").toFile())
        .redirectError(tmp.resolve("err.txt").toFile()).start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "finished");
    String err = Files.readString(tmp.resolve("err.txt"));
    assumeTrue(p.exitValue() != 0, "skipped: 16 MiB of heap were enough this time");
    assertEquals(2, p.exitValue(), err);
    String line = errorLine(err);
    assertTrue(line.startsWith("error: out of memory (the Java heap holds at most ")
        && line.contains("MiB): lower --ctx or --max-tokens"), line);
    assertEquals("", Files.readString(tmp.resolve("out.txt")));
  }

  @Test
  void case15MisleadingMessagesAreClear() throws Exception {
    if (Files.isDirectory(Path.of("/proc/self"))) {
      String line = refused(List.of(), quantize(model, Path.of("/proc/x")), "/proc/x",
          "cannot be created");
      assertFalse(line.contains("/proc/x: /proc/x"), line);
    }
    refused(List.of(), new String[] {"generate", "--model", checkpoint.toString(), "--temperature",
        "Infinity"}, "--temperature", "finite");
    refused(List.of(checkpoint), new String[] {"inspect", "--model",
        checkpoint.resolve("model.safetensors").toString()}, "name the folder");
    Path partialOnly = tmp.resolve("unfinished");
    interruptedRun(model, partialOnly, 1);
    refused(List.of(partialOnly), ppl(partialOnly), "unfinished quantization run", "--resume");
    refused(List.of(checkpoint), new String[] {"generate", "--model", checkpoint.toString(),
        "--prompt", "Once upon a time there was a cat. ".repeat(100)}, "context length of 512");
    String line = refused(List.of(), new String[] {"generate", "--model", model.toString(),
        "--max-tokens", "-1"}, "--max-tokens");
    assertFalse(line.contains("maxTokens"), line);
    line = refused(List.of(), quantize(model, tmp.resolve("o"), "--refine-passes", "-1"),
        "--refine-passes");
    assertFalse(line.contains("refinePasses"), line);
  }

  /** Run in a separate JVM that the test kills: writes a model large enough to be caught mid-write. */
  @Test
  void case15KilledWriteLeavesNothingTheNextWriteKeeps() throws Exception {
    Path out = tmp.resolve("synth");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-Xmx512m", "-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "synth-model", "--dim", "1024", "--hidden", "2816", "--layers", "4",
        "--heads", "8", "--kv-heads", "8", "--vocab", "512", "--out", out.toString())
        .redirectErrorStream(true).redirectOutput(tmp.resolve("fork.log").toFile()).start();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    Path staging = null;
    while (staging == null && p.isAlive() && System.nanoTime() < deadline) {
      staging = temporaryFiles(out).stream().filter(f -> size(f) > (4 << 20)).findFirst()
          .orElse(null);
      Thread.sleep(20);
    }
    assertTrue(p.isAlive() && staging != null, "caught mid-write: "
        + Files.readString(tmp.resolve("fork.log")));
    p.destroyForcibly(); // SIGKILL
    p.waitFor();
    assertFalse(Files.exists(out.resolve("model.safetensors")), "nothing committed");
    assertFalse(temporaryFiles(out).isEmpty(), "the killed write left its staging file");
    Thread.sleep(1100); // older than a live writer's moment between creating and locking
    run(0, "synth-model", "--dim", "64", "--hidden", "128", "--layers", "1", "--heads", "4",
        "--kv-heads", "4", "--vocab", "300", "--out", out.toString());
    assertEquals(List.of(), temporaryFiles(out), "the next write into the folder removed them");
    assertTrue(Files.exists(out.resolve("model.safetensors")));
  }

  static List<Path> temporaryFiles(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(f -> f.getFileName().toString().contains(".tmp-")).toList();
    }
  }

  static long size(Path f) {
    try {
      return Files.size(f);
    } catch (IOException e) {
      return 0;
    }
  }
}
