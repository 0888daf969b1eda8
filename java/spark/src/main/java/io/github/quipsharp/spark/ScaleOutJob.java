package io.github.quipsharp.spark;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.ContextTooLongException;
import io.github.quipsharp.LayerReport;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.QuantizationInfo;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.QuantizationRun;
import io.github.quipsharp.pipeline.RunLayout;
import io.github.quipsharp.pipeline.RunSettings;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * The driver of a scale-out run: checks every input before any Spark job starts (one-line errors),
 * prepares the run folder by the single-machine run's rules ({@link RunLayout}: same run.json, same
 * resume rules), runs {@link HessianPhase} and {@link QuantizePhase}, and assembles the same
 * checkpoint with {@link QuantizationRun#assemble}.
 */
final class ScaleOutJob {
  private static final Pattern LOCAL = Pattern.compile("local(\\[([0-9]+|\\*)\\])?");

  private final JobSpec spec;
  private final PrintWriter out;

  ScaleOutJob(JobSpec spec, PrintWriter out) {
    this.spec = spec;
    this.out = out;
  }

  /** Runs the job; returns the checkpoint's layer reports. */
  QuantizationInfo run() throws IOException {
    long started = System.nanoTime();
    // ---- everything that can be wrong with the input, before Spark starts ----
    SparkConf conf = new SparkConf().setAppName("quipsharp quantize");
    if (spec.master() != null) {
      conf.setMaster(retrying(spec.master()));
    } else if (!conf.contains("spark.master")) {
      throw new IllegalArgumentException("--master is required (or run under spark-submit --master URL)");
    }
    String modelUri = RunFolder.path(spec.model()).toString();
    java.nio.file.Path localModel = existing(spec.model(), "--model");
    try (ModelSource src = ModelSource.open(localModel)) {
      LlamaConfig mc = src.config();
      ContextTooLongException.require(mc, spec.ctx(), spec.allowLongerContext());
      if (spec.ctx() > mc.maxSeqLen()) {
        out.println("warning: --ctx " + spec.ctx() + " exceeds the model's context length "
            + mc.maxSeqLen() + " (max_position_embeddings): the Hessians come from positions it "
            + "was never trained for");
      }
      Tokenizer tok = tokenizer(localModel);
      int[] all = tok.encode(text(spec.calibration()), true, false);
      int[] cal = CalibrationSplit.calibration(all, spec.fraction());
      int windows = RunLayout.windows(cal.length, spec.ctx(), spec.samples());
      FailOnce failOnce = FailOnce.parse(spec.failOnce(), mc.layers());
      RunFolder folder = new RunFolder(spec.out());
      int threads = conf.getInt("spark.task.cpus", 1);
      QuantConfig cfg = spec.quantConfig();
      TaskSettings t = new TaskSettings(modelUri, folder, cfg, spec.ctx(), threads, failOnce);
      RunSettings settings = RunSettings.of(src, cfg, spec.ctx(), windows, cal);
      if (!(RunFolder.fileSystem(RunFolder.path(modelUri)) instanceof org.apache.hadoop.fs.RawLocalFileSystem)) {
        settings = settings.withModel(modelUri); // the model's own name, not this machine's copy
      }
      prepare(folder, settings);
      out.printf(Locale.ROOT, "quantize %s to %d bits, calibration %s: %d of %d tokens, %d windows%n",
          spec.model(), cfg.bits(), spec.calibration(), cal.length, all.length, windows);
      out.flush();

      // ---- the Spark part ----
      System.setProperty("io.netty.tryReflectionSetAccessible", "true");
      ProgressLog log = new ProgressLog(out);
      try (JavaSparkContext sc = new JavaSparkContext(conf)) {
        sc.setLogLevel("WARN");
        sc.sc().addSparkListener(log);
        int partitions = spec.partitions() != null ? spec.partitions() : sc.defaultParallelism();
        log.info("Spark " + sc.version() + ", master " + sc.master() + ", " + partitions
            + " partitions" + (sc.sc().uiWebUrl().isDefined() ? ", UI " + sc.sc().uiWebUrl().get() : ""));
        HadoopHessianStore hessians = folder.hessians();
        boolean[] need = RunLayout.layersNeedingHessians(mc.layers(), hessians::containsLayer,
            l -> Arrays.stream(LinearGroup.values()).allMatch(g -> folder.exists(folder.shard(l, g))));
        long a = System.nanoTime();
        HessianPhase.run(sc, t, cal, windows, partitions, need, log);
        log.info(String.format(Locale.ROOT, "Phase A took %.1f s", (System.nanoTime() - a) / 1e9));
        long b = System.nanoTime();
        QuantizePhase.run(sc, t, QuantizePhase.missing(folder, mc), log);
        log.info(String.format(Locale.ROOT, "Phase B took %.1f s", (System.nanoTime() - b) / 1e9));
      }
      QuantizationInfo info = assemble(src, cfg, settings, folder);
      out.printf(Locale.ROOT, "wrote %s in %.1f s%n", spec.out(), (System.nanoTime() - started) / 1e9);
      out.printf(Locale.ROOT, "mean relative proxy loss %.6f over %d layer groups%n",
          info.layers().stream().mapToDouble(LayerReport::relativeProxyLoss).average().orElse(0),
          info.layers().size());
      out.flush();
      return info;
    }
  }

  /** local and local[N] get Spark's cluster default of 4 attempts per task (local[N,4]). */
  static String retrying(String master) {
    Matcher m = LOCAL.matcher(master.trim());
    if (!m.matches()) {
      return master;
    }
    return "local[" + (m.group(2) == null ? "1" : m.group(2)) + ",4]";
  }

  private static java.nio.file.Path existing(String uri, String option) {
    org.apache.hadoop.fs.Path p = RunFolder.path(uri);
    try {
      if (!RunFolder.fileSystem(p).exists(p)) {
        throw new IllegalArgumentException(option + " " + uri + " does not exist");
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(option + " " + uri + " cannot be read: " + e.getMessage());
    } catch (UncheckedIOException e) { // its file system cannot be reached (e.g. an unknown host)
      throw new IllegalArgumentException(option + " " + uri + " cannot be reached: "
          + e.getMessage());
    }
    return LocalCopies.of(uri);
  }

  private Tokenizer tokenizer(java.nio.file.Path localModel) {
    try {
      return spec.tokenizer() != null ? Tokenizer.load(existing(spec.tokenizer(), "--tokenizer"))
          : Tokenizer.forModel(localModel);
    } catch (ModelFormatException e) {
      throw new IllegalArgumentException(e.getMessage()
          + (spec.tokenizer() == null ? " (name one with --tokenizer PATH)" : ""), e);
    }
  }

  /** The calibration file as strict UTF-8 text. */
  private static String text(String uri) {
    org.apache.hadoop.fs.Path p = RunFolder.path(uri);
    try (InputStream in = RunFolder.fileSystem(p).open(p)) {
      String s = StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(in.readAllBytes())).toString();
      if (s.isEmpty()) {
        throw new IllegalArgumentException("calibration file " + uri + " is empty");
      }
      return s;
    } catch (FileNotFoundException e) {
      throw new IllegalArgumentException("calibration file " + uri + " does not exist");
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("calibration file " + uri + " is not UTF-8 text");
    } catch (IOException e) {
      throw new IllegalArgumentException("calibration file " + uri + " cannot be read: " + e.getMessage());
    } catch (UncheckedIOException e) { // its file system cannot be reached (e.g. an unknown host)
      throw new IllegalArgumentException("--calibration " + uri + " cannot be reached: "
          + e.getMessage());
    }
  }

  /**
   * The single-machine rules ({@link RunLayout}): a new or empty folder, or an interrupted run with
   * the same settings; the refusals are the core's typed errors ({@link SparkQuantize} words them).
   */
  private void prepare(RunFolder f, RunSettings settings) {
    try {
      FileSystem fs = f.fs();
      if (fs.exists(f.root()) && !fs.getFileStatus(f.root()).isDirectory()) {
        throw new OutputFolderException(spec.out(), OutputFolderException.Problem.IS_A_FILE,
            List.of(), null, null);
      }
      if (fs.exists(f.partial())) {
        RunLayout.checkResume(spec.out(), spec.resume(),
            fs.exists(f.runFile()) ? f.read(f.runFile()) : null, settings);
        out.println("resuming the interrupted run in " + spec.out());
        return;
      }
      if (fs.exists(f.root())) {
        FileStatus[] entries = fs.listStatus(f.root());
        if (entries.length > 0) {
          throw new OutputFolderException(spec.out(), OutputFolderException.Problem.NOT_EMPTY,
              Arrays.stream(entries).map(e -> e.getPath().getName()).sorted().limit(4).toList(),
              null, null);
        }
      }
      if (!fs.mkdirs(f.partial())) {
        throw new IOException("mkdirs failed");
      }
      f.write(f.runFile(), settings.runJson());
    } catch (IOException e) {
      throw new IllegalArgumentException("--out " + spec.out() + " cannot be written: " + e.getMessage());
    } catch (UncheckedIOException e) { // its file system cannot be reached (e.g. an unknown host)
      throw new IllegalArgumentException("--out " + spec.out() + " cannot be reached: "
          + e.getMessage());
    }
  }

  /** The checkpoint from the shards, written in place when local, else staged locally and uploaded. */
  private QuantizationInfo assemble(ModelSource src, QuantConfig cfg, RunSettings settings,
      RunFolder f) throws IOException {
    QuantizationInfo info;
    if (f.isLocal()) {
      java.nio.file.Path dir = f.localPath();
      info = QuantizationRun.assemble(src, cfg, settings, dir.resolve(RunLayout.PARTIAL), dir);
    } else {
      java.nio.file.Path stage = Files.createTempDirectory("quipsharp-assemble-");
      try {
        java.nio.file.Path partial = stage.resolve(RunLayout.PARTIAL);
        for (int l = 0; l < src.config().layers(); l++) {
          for (LinearGroup g : LinearGroup.values()) {
            java.nio.file.Path local = partial.resolve(RunLayout.LAYERS).resolve(RunLayout.shardName(l, g));
            Files.createDirectories(local.getParent());
            Files.write(local, f.read(f.shard(l, g)));
          }
        }
        java.nio.file.Path dir = Files.createDirectories(stage.resolve("out"));
        info = QuantizationRun.assemble(src, cfg, settings, partial, dir);
        List<java.nio.file.Path> files;
        try (var list = Files.list(dir)) {
          files = list.sorted().toList();
        }
        for (java.nio.file.Path p : files) { // config.json last: the checkpoint appears complete
          if (!p.getFileName().toString().equals("config.json")) {
            f.upload(p, new org.apache.hadoop.fs.Path(f.root(), p.getFileName().toString()));
          }
        }
        f.upload(dir.resolve("config.json"), new org.apache.hadoop.fs.Path(f.root(), "config.json"));
      } finally {
        AtomicFiles.deleteTree(stage);
      }
    }
    if (!spec.keepPartial()) {
      f.delete(f.partial());
    }
    return info;
  }
}
