package io.github.quipsharp.pipeline;

import io.github.quipsharp.InterruptedRunException;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.SettingDifference;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.OutputFolders;
import io.github.quipsharp.internal.SettingsDiff;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * The run folder of a quantization and the rules both drivers apply to it. An unfinished run lives
 * in {@code out/.partial/}: {@code run.json} (its {@link RunSettings}), {@code hessians/} (one
 * {@link HessianStore} file per layer group), {@code layers/} (one quantized shard per layer group,
 * and with blockwise fine-tuning a norms shard per layer, written last) and {@code blockwise/} (the
 * tuner's work folder). The checkpoint is assembled from the shards and {@code .partial} removed.
 * The static rules (window count, resume check, which layers need Hessians) work on any file
 * system; the instance methods are the local file system's.
 */
public final class RunLayout {
  /** The folder under {@code out} that holds an unfinished run. */
  public static final String PARTIAL = ".partial";
  public static final String RUN_FILE = "run.json";
  public static final String HESSIANS = "hessians";
  public static final String LAYERS = "layers";

  private final Path out;
  private final Path partial;

  public RunLayout(Path out) {
    this.out = out;
    this.partial = out.resolve(PARTIAL);
  }

  // ---- rules shared by every driver -----------------------------------------------------------

  /**
   * The number of calibration windows a run uses: whole windows of {@code ctx} tokens, at most
   * {@code samples} of them (0: all).
   *
   * @throws IllegalArgumentException when the calibration tokens do not fill one window
   */
  public static int windows(int calibrationTokens, int ctx, int samples) {
    int windows = calibrationTokens / ctx;
    if (windows == 0) {
      throw new IllegalArgumentException("calibration text is too short: " + calibrationTokens
          + " tokens do not fill one window of ctx = " + ctx + " tokens");
    }
    return samples > 0 ? Math.min(windows, samples) : windows;
  }

  /**
   * Whether an existing interrupted run may be continued by a run with {@code now}'s settings.
   *
   * @param folder how to name the output folder in an error
   * @param savedRunJson the interrupted run's run.json bytes, or null when it has none
   * @throws InterruptedRunException when {@code resume} is false
   * @throws ResumeMismatchException when the settings differ or there is no run.json
   */
  public static void checkResume(String folder, boolean resume, byte[] savedRunJson,
      RunSettings now) {
    if (!resume) {
      throw new InterruptedRunException(folder);
    }
    List<SettingDifference> differs = savedRunJson == null ? List.of()
        : now.differencesFrom(savedRunJson, folder + "/" + PARTIAL + "/" + RUN_FILE);
    if (savedRunJson == null || !differs.isEmpty()) {
      throw new ResumeMismatchException(folder, differs);
    }
  }

  /**
   * The layers whose Hessians must still be collected: those missing one, except layers already
   * quantized (their Hessians are no longer needed).
   */
  public static boolean[] layersNeedingHessians(int layers, IntPredicate hessiansDone,
      IntPredicate layerDone) {
    boolean[] need = new boolean[layers];
    for (int l = 0; l < layers; l++) {
      need[l] = !hessiansDone.test(l) && !layerDone.test(l);
    }
    return need;
  }

  /** The file name of a group's quantized shard inside {@code layers/}. */
  public static String shardName(int layer, LinearGroup g) {
    return layer + "_" + g.key() + ".safetensors";
  }

  // ---- the local folder ------------------------------------------------------------------------

  public Path out() {
    return out;
  }

  public Path partial() {
    return partial;
  }

  public Path runFile() {
    return partial.resolve(RUN_FILE);
  }

  public Path shard(int layer, LinearGroup g) {
    return partial.resolve(LAYERS).resolve(shardName(layer, g));
  }

  /** The blockwise tuner's work folder. */
  public Path tunerDir() {
    return partial.resolve("blockwise");
  }

  public LocalHessianStore hessians() {
    return new LocalHessianStore(partial.resolve(HESSIANS));
  }

  /** Whether every group of the layer has its shard (and, when {@code tuned}, its norms shard). */
  public boolean layerDone(int layer, boolean tuned) {
    if (tuned && !Files.exists(CoreInternals.normsShard(partial, layer))) {
      return false;
    }
    return Arrays.stream(LinearGroup.values()).allMatch(g -> Files.exists(shard(layer, g)));
  }

  /** Whether any shard was written. */
  public boolean hasShards() throws IOException {
    Path layers = partial.resolve(LAYERS);
    if (!Files.isDirectory(layers)) {
      return false;
    }
    try (var entries = Files.list(layers)) {
      return entries.anyMatch(p -> p.getFileName().toString().endsWith(".safetensors"));
    }
  }

  /**
   * Checks the output folder and starts or continues the run in it: a new or empty folder gets
   * {@code .partial/run.json}; an interrupted run is continued when {@code resume} and its settings
   * are {@code settings}. Returns true when it started a new run.
   *
   * @throws io.github.quipsharp.OutputFolderException when {@code out} is a file or not empty
   * @throws InterruptedRunException when it holds an interrupted run and {@code resume} is false
   * @throws ResumeMismatchException when the interrupted run has other settings
   */
  public boolean prepare(RunSettings settings, boolean resume, ProgressListener listener)
      throws IOException {
    OutputFolders.requireFolderOrAbsent(out);
    if (Files.exists(partial)) {
      Path runFile = runFile();
      checkResume(out.toString(), resume, Files.exists(runFile) ? Files.readAllBytes(runFile) : null,
          settings);
      listener.info("resuming the interrupted run in " + out);
      return false;
    }
    OutputFolders.createEmpty(out, partial);
    AtomicFiles.write(runFile(), settings.runJson());
    return true;
  }
}
