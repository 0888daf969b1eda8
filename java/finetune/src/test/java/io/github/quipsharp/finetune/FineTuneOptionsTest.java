package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** The options' presets (paper F.6 values), the builder, the withers and the checks by field name. */
class FineTuneOptionsTest {
  @Test
  void presetsHoldThePaperSettings() {
    FineTuneOptions b = FineTuneOptions.BLOCK_DEFAULTS;
    assertEquals(5, b.epochs());
    assertEquals(8, b.batch());
    assertEquals(5e-5, b.lr());
    assertEquals(5e-4, b.signLr());
    assertEquals(3, b.patience());
    assertEquals(0, b.seed());
    assertEquals(0, b.windows());
    assertEquals(1.0 / 3, b.validFraction());
    assertEquals(FineTuneOptions.Device.CPU, b.device());
    assertEquals(FineTuneOptions.Precision.FP32, b.precision());
    assertEquals(2, FineTuneOptions.E2E_DEFAULTS.batch());
    assertEquals(FineTuneOptions.E2E_DEFAULTS, FineTuneOptions.builder().build());
    FineTuneOptions auto = FineTuneOptions.E2E_AUTO;
    assertTrue(auto.autoEpochs() && auto.autoLr() && auto.autoSignLr());
    assertEquals(FineTuneOptions.E2E_DEFAULTS.lr(), auto.lr(), "the sweep's centre");
  }

  @Test
  void toBuilderChangesOnlyWhatIsSet() {
    FineTuneOptions o = FineTuneOptions.BLOCK_AUTO.toBuilder().batch(4).seed(9)
        .budgetSeconds(60).precision(FineTuneOptions.Precision.BF16).keepDecoded(true).build();
    FineTuneOptions want = new FineTuneOptions(FineTuneOptions.AUTO_EPOCHS, 4, 5e-5, 5e-4, 3, 9, 0,
        1.0 / 3, false, true, true, 60, FineTuneOptions.Device.CPU, FineTuneOptions.Precision.BF16,
        true);
    assertEquals(want, o);
    assertEquals(o, FineTuneOptions.BLOCK_AUTO.withBatch(4).withSeed(9).withBudget(60)
        .withPrecision(FineTuneOptions.Precision.BF16).withKeepDecoded(true));
    // Fixed learning rates turn the sweep off for both.
    FineTuneOptions fixed = o.withLearningRates(1e-4, 1e-3);
    assertEquals(1e-4, fixed.lr());
    assertEquals(1e-3, fixed.signLr());
    assertTrue(!fixed.autoLr() && !fixed.autoSignLr());
  }

  @Test
  void badValuesNameTheirField() {
    FineTuneOptions.Builder b = FineTuneOptions.E2E_DEFAULTS.toBuilder();
    assertMessage("epochs = -2", () -> b.epochs(-2).build());
    assertMessage("batch = 0", () -> FineTuneOptions.builder().batch(0).build());
    assertMessage("learning rates", () -> FineTuneOptions.builder().learningRates(0, 1).build());
    assertMessage("patience = 0", () -> FineTuneOptions.builder().patience(0).build());
    assertMessage("windows = -1", () -> FineTuneOptions.builder().windows(-1).build());
    assertMessage("validation fraction 1.0", () -> FineTuneOptions.builder().validFraction(1).build());
    assertMessage("budget = -1.0", () -> FineTuneOptions.builder().budgetSeconds(-1).build());
    assertMessage("device", () -> FineTuneOptions.builder().device(null).build());
    assertMessage("precision", () -> FineTuneOptions.builder().precision(null).build());
  }

  private static void assertMessage(String start, Executable e) {
    String m = assertThrows(IllegalArgumentException.class, e).getMessage();
    assertTrue(m.startsWith(start), m);
  }
}
