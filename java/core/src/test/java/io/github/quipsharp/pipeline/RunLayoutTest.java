package io.github.quipsharp.pipeline;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.InterruptedRunException;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.QuantConfig;
import io.github.quipsharp.ResumeMismatchException;
import io.github.quipsharp.SettingDifference;
import io.github.quipsharp.internal.SettingsDiff;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The run-folder rules both drivers apply: windows, resume checks, what still needs Hessians. */
class RunLayoutTest {
  @TempDir Path tmp;

  static RunSettings settings(int bits, int ctx) {
    Map<String, ModelIdentity.FileIdentity> files = new LinkedHashMap<>();
    files.put("config.json", new ModelIdentity.FileIdentity("config.json", 600, "aaaa0000"));
    files.put("model.safetensors", new ModelIdentity.FileIdentity("model.safetensors", 1045096, "bbbb1111"));
    return new RunSettings("/m", "huggingface", files,
        new ModelIdentity.FileIdentity("tok512.bin", 6227, "cccc2222"),
        QuantConfig.builder().bits(bits).seed(1).build(), ctx, 24, 7000, "1f2e3d", null, null);
  }

  @Test
  void windowsAreWholeWindowsCappedBySamples() {
    assertEquals(3, RunLayout.windows(800, 256, 0));
    assertEquals(2, RunLayout.windows(800, 256, 2));
    assertEquals(3, RunLayout.windows(800, 256, 9));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> RunLayout.windows(255, 256, 0));
    assertEquals("calibration text is too short: 255 tokens do not fill one window of ctx = 256 "
        + "tokens", e.getMessage());
  }

  /** run.json's layout is what runs before this one wrote: a resumed run compares against it. */
  @Test
  void runJsonKeepsItsKeysInTheirOrder() {
    String json = new String(settings(2, 256).runJson(), StandardCharsets.UTF_8);
    String[] keys = {"\"model\"", "\"model_format\"", "\"model_files\"", "\"config.json\"",
        "\"model.safetensors\"", "\"tokenizer\"", "\"quant_config\"", "\"bits\"", "\"seed\"",
        "\"rounding\"", "\"refine_passes\"", "\"damping\"", "\"scale\"", "\"residual_scale\"",
        "\"incoherence\"", "\"ctx\"", "\"windows\"", "\"calibration_tokens\"", "\"calibration_hash\""};
    int at = -1;
    for (String k : keys) {
      int next = json.indexOf(k, at + 1);
      assertTrue(next > at, k + " out of order in " + json);
      at = next;
    }
    assertTrue(json.contains("\"file\" : \"tok512.bin\""), json);
    assertTrue(json.contains("\"crc32c\" : \"bbbb1111\""), json);
    assertFalse(json.contains("blockwise"), json);
  }

  @Test
  void resumeIsRefusedWithoutTheFlagOrWithOtherSettings() {
    RunSettings now = settings(2, 256);
    byte[] saved = now.runJson();
    RunLayout.checkResume("out", true, saved, now); // the same settings resume
    InterruptedRunException i = assertThrows(InterruptedRunException.class,
        () -> RunLayout.checkResume("out", false, saved, now));
    assertEquals("out", i.folder());
    ResumeMismatchException m = assertThrows(ResumeMismatchException.class,
        () -> RunLayout.checkResume("out", true, saved, settings(3, 128)));
    assertEquals(List.of(
        new SettingDifference("ctx", "ctx", "was 256, now 128"),
        new SettingDifference("quant_config.bits", "quant_config.bits", "was 2, now 3")),
        m.differences());
    assertEquals("cannot resume in out: the interrupted run used other settings: ctx was 256, now "
        + "128; quant_config.bits was 2, now 3 (use the same ones, or delete out to start over)",
        m.getMessage());
    assertEquals("ctx was 256, now 128; quant_config.bits was 2, now 3",
        SettingsDiff.describe(m.differences()));
    assertFalse(m.getMessage().contains("--"), m.getMessage());
    ResumeMismatchException none = assertThrows(ResumeMismatchException.class,
        () -> RunLayout.checkResume("out", true, null, now));
    assertTrue(none.differences().isEmpty());
    assertTrue(none.getMessage().contains("it has no run.json"), none.getMessage());
    IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
        () -> RunLayout.checkResume("out", true, "{not json".getBytes(StandardCharsets.UTF_8), now));
    assertTrue(bad.getMessage().contains("out/.partial/run.json is not valid JSON"), bad.getMessage());
  }

  @Test
  void aLayerNeedsHessiansUntilItHasThemOrIsQuantized() {
    boolean[] need = RunLayout.layersNeedingHessians(4, l -> l == 1, l -> l == 2);
    assertArrayEquals(new boolean[] {true, false, false, true}, need);
  }

  @Test
  void prepareStartsANewRunOrResumesTheSameOne() throws Exception {
    Path out = tmp.resolve("out");
    RunLayout layout = new RunLayout(out);
    assertTrue(layout.prepare(settings(2, 256), false, ProgressListener.NONE));
    assertArrayEquals(settings(2, 256).runJson(), Files.readAllBytes(layout.runFile()));
    assertFalse(layout.hasShards());
    assertThrows(InterruptedRunException.class,
        () -> layout.prepare(settings(2, 256), false, ProgressListener.NONE));
    assertThrows(ResumeMismatchException.class,
        () -> layout.prepare(settings(3, 256), true, ProgressListener.NONE));
    assertFalse(layout.prepare(settings(2, 256), true, ProgressListener.NONE));
    Files.createDirectories(layout.shard(0, LinearGroup.QKV).getParent());
    Files.writeString(layout.shard(0, LinearGroup.QKV), "x");
    assertTrue(layout.hasShards());
    assertFalse(layout.layerDone(0, false));

    Path busy = Files.createDirectories(tmp.resolve("busy"));
    Files.writeString(busy.resolve("notes.txt"), "mine");
    OutputFolderException e = assertThrows(OutputFolderException.class,
        () -> new RunLayout(busy).prepare(settings(2, 256), false, ProgressListener.NONE));
    assertEquals(List.of("notes.txt"), e.entries());
    assertFalse(Files.exists(busy.resolve(RunLayout.PARTIAL)));
  }
}
