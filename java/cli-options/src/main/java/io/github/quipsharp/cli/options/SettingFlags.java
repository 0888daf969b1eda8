package io.github.quipsharp.cli.options;

import io.github.quipsharp.SettingDifference;
import java.util.List;
import java.util.Map;

/**
 * The command-line flag behind each settings key of a run's run.json (quantization, and end-to-end
 * fine-tuning's {@code options.*}): the core names a differing setting by its key, the command
 * line adds the flag that changes it.
 */
public final class SettingFlags {
  private static final Map<String, String> FLAGS = Map.ofEntries(
      Map.entry("model", "--model"),
      Map.entry("ctx", "--ctx"),
      Map.entry("windows", "--samples"),
      Map.entry("calibration_tokens", "--calibration / --calibration-fraction"),
      Map.entry("calibration_hash", "--calibration / --calibration-fraction"),
      Map.entry("quant_config.bits", "--bits"),
      Map.entry("quant_config.seed", "--seed"),
      Map.entry("quant_config.rounding", "--rounding"),
      Map.entry("quant_config.refine_passes", "--refine-passes"),
      Map.entry("quant_config.incoherence", "--no-rht"),
      Map.entry("blockwise_finetune", "--finetune / --ft-*"),
      // end-to-end fine-tuning's run.json (EndToEndTuner) and a fine-tuning state's options
      Map.entry("fp_model", "--model"),
      Map.entry("options.epochs", "--ft-epochs"),
      Map.entry("options.batch", "--ft-batch"),
      Map.entry("options.lr", "--ft-lr"),
      Map.entry("options.sign_lr", "--ft-sign-lr"),
      Map.entry("options.windows", "--ft-windows"),
      Map.entry("options.seed", "--seed"),
      Map.entry("options.budget_seconds", "--ft-budget"),
      Map.entry("options.device", "--ft-device"),
      Map.entry("options.precision", "--ft-precision"),
      Map.entry("options.keep_decoded", "--ft-keep-decoded"));

  private SettingFlags() {}

  /** The flag that sets {@code key}, or null when no flag does. */
  public static String flag(String key) {
    return FLAGS.get(key);
  }

  /** The differences joined by "; ", each as "name (flag) change" where a flag sets it. */
  public static String describe(List<SettingDifference> differences) {
    return String.join("; ", differences.stream().map(d -> d.describe(flag(d.key()))).toList());
  }
}
