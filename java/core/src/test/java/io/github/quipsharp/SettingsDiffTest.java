package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.internal.SettingsDiff;
import org.junit.jupiter.api.Test;

class SettingsDiffTest {
  static JsonNode json(String s) throws Exception {
    return new ObjectMapper().readTree(s.replace('\'', '"'));
  }

  static final String RUN = "{'model': '/m', 'ctx': 256, 'windows': 24,"
      + " 'quant_config': {'bits': 2, 'seed': 1, 'damping': 0.01},"
      + " 'model_files': {'config.json': {'bytes': 600, 'crc32c': 'aaaa0000'},"
      + "                 'model.safetensors': {'bytes': 1045096, 'crc32c': 'bbbb1111'}},"
      + " 'tokenizer': {'file': 'tok512.bin', 'bytes': 6227, 'crc32c': 'cccc2222'}}";

  @Test
  void equalSettingsHaveNoDifference() throws Exception {
    assertNull(SettingsDiff.describe(json(RUN), json(RUN)));
  }

  @Test
  void eachDifferenceIsNamedWithItsKeyAndBothValues() throws Exception {
    String now = RUN.replace("'bits': 2", "'bits': 3").replace("'ctx': 256", "'ctx': 128");
    assertEquals("ctx was 256, now 128; quant_config.bits was 2, now 3",
        SettingsDiff.describe(json(RUN), json(now)));
    assertEquals("quant_config.damping was 0.01, now 0.02",
        SettingsDiff.describe(json(RUN), json(RUN.replace("0.01", "0.02"))));
  }

  /** Settings kept below a key of a larger object (a fine-tuning state's options): full keys. */
  @Test
  void settingsBelowAPathAreNamedByTheirFullPath() throws Exception {
    assertEquals("options.lr was 5.0E-5, now 1.0E-4; options.patience was 3, now 4",
        SettingsDiff.describe("options", json("{'lr': 5.0E-5, 'patience': 3}"),
            json("{'lr': 1.0E-4, 'patience': 4}")));
    assertNull(SettingsDiff.describe("options", json("{'lr': 5.0E-5}"), json("{'lr': 5.0E-5}")));
  }

  @Test
  void aChangedFileIsNamed() throws Exception {
    String now = RUN.replace("bbbb1111", "dddd3333");
    assertEquals("model file model.safetensors differs from the interrupted run's (crc32c "
        + "bbbb1111, now dddd3333)", SettingsDiff.describe(json(RUN), json(now)));
    now = RUN.replace("'tok512.bin', 'bytes': 6227", "'tokenizer.json', 'bytes': 9000");
    assertEquals("tokenizer file tokenizer.json differs from the interrupted run's (file "
        + "tok512.bin, now tokenizer.json, bytes 6227, now 9000)",
        SettingsDiff.describe(json(RUN), json(now)));
    now = RUN.replace("'model.safetensors'", "'model-00001-of-00002.safetensors'");
    assertEquals("model file model-00001-of-00002.safetensors is new (the interrupted run had "
        + "none); model file model.safetensors is gone", SettingsDiff.describe(json(RUN), json(now)));
  }

  /** The blockwise fine-tuning settings are one choice: a change names the block, not its keys. */
  @Test
  void blockwiseFineTuningIsComparedAsAWhole() throws Exception {
    String run = RUN.replace("'ctx': 256", "'ctx': 256, 'blockwise_finetune': {'epochs': 2, 'lr': 1}");
    assertEquals("blockwise_finetune was {\"epochs\":2,\"lr\":1}, now {\"epochs\":3,\"lr\":1}",
        SettingsDiff.describe(json(run), json(run.replace("'epochs': 2", "'epochs': 3"))));
  }

  /** The core names settings, never command-line flags. */
  @Test
  void noDifferenceNamesAFlag() throws Exception {
    String now = RUN.replace("'bits': 2", "'bits': 3").replace("'ctx': 256", "'ctx': 128")
        .replace("'model': '/m'", "'model': '/n'").replace("'windows': 24", "'windows': 12");
    String d = SettingsDiff.describe(json(RUN), json(now));
    assertEquals("ctx was 256, now 128; model was /m, now /n; quant_config.bits was 2, now 3; "
        + "windows was 24, now 12", d);
    assertFalse(d.contains("--"), d);
  }
}
