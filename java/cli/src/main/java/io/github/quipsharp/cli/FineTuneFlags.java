package io.github.quipsharp.cli;

import io.github.quipsharp.cli.options.FlagChecks;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.finetune.FineTuning;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Option;

/** The fine-tuning flags shared by quantize, finetune and demo. */
final class FineTuneFlags {
  private static final String AUTO = "auto";

  @Option(names = "--ft-epochs", paramLabel = "N|auto",
      description = "Fine-tuning epochs per stage: a number, or auto (default): until the "
          + "validation loss has not improved for 3 epochs (or --ft-budget runs out). Each stage "
          + "reports why it stopped.")
  String epochs;

  @Option(names = "--ft-lr", paramLabel = "X|auto",
      description = "Adam learning rate of norms, head and not-yet-quantized weights. auto "
          + "(default): a short sweep over 1x, 3x, 10x, 30x of 5e-5 (paper F.6), jointly with the "
          + "sign vectors' rate, picks it by the loss on the validation windows (the calibration "
          + "text's last third, never the evaluation text). A number fixes it; the sign vectors "
          + "then get 10x it unless --ft-sign-lr is given.")
  String lr;

  @Option(names = "--ft-sign-lr", paramLabel = "Y|auto",
      description = "Adam learning rate of the sign vectors SU/SV: a number, or auto (swept "
          + "around 5e-4; the default unless --ft-lr is a number, then 10 x --ft-lr).")
  String signLr;

  @Option(names = "--ft-batch",
      description = "Windows per optimiser step (default: 8 blockwise, 2 end-to-end).")
  Integer batch;

  @Option(names = "--ft-windows",
      description = "Calibration windows used for fine-tuning (default: all; the last third "
          + "validates).")
  Integer windows;

  @Option(names = "--ft-budget", paramLabel = "DURATION",
      description = "Wall-time budget of each fine-tuning stage, sweep included: seconds, or a "
          + "number with s, m or h (e.g. 90m); training stops after the budget and keeps the best "
          + "epoch (default: none).")
  String budget;

  @Option(names = "--ft-device", paramLabel = "cpu|cuda", defaultValue = "cpu",
      description = "Where libtorch tunes: cpu (default) or cuda (the first GPU; needs the CUDA "
          + "build of the PyTorch preset, Maven profile -Ptorch-cuda).")
  String device;

  @Option(names = "--ft-precision", paramLabel = "fp32|bf16", defaultValue = "fp32",
      description = "Storage and product type of the decoded codebook matrices during tuning: "
          + "fp32 (default) or bf16 (half their memory; the rest stays fp32).")
  String precision;

  @Option(names = "--ft-keep-decoded",
      description = "End to end: decode every block once and keep them all, instead of one block "
          + "at a time (faster; memory grows by one block's decoded matrices per layer, e.g. "
          + "0.4 GB per 7B layer in bf16: for GPUs with memory to spare and small models).")
  boolean keepDecoded;

  /** Checks the values given, naming the flags (FineTuneOptions names its fields). */
  void validate() {
    if (epochs != null && !isAuto(epochs)) {
      FlagChecks.atLeast("--ft-epochs", integer("--ft-epochs", epochs), 0);
    }
    if (lr != null && !isAuto(lr)) {
      FlagChecks.learningRate("--ft-lr", number("--ft-lr", lr));
    }
    if (signLr != null && !isAuto(signLr)) {
      FlagChecks.learningRate("--ft-sign-lr", number("--ft-sign-lr", signLr));
    }
    FlagChecks.atLeast("--ft-batch", batch, 1);
    FlagChecks.atLeast("--ft-windows", windows, 0);
  }

  /** The stage's defaults with the flags given applied. */
  FineTuneOptions apply(FineTuneOptions defaults, long seed, boolean resume) {
    validate();
    FineTuneOptions o = defaults.withSeed(seed).withResume(resume);
    if (epochs != null) {
      o = o.withEpochs(isAuto(epochs) ? FineTuneOptions.AUTO_EPOCHS : integer("--ft-epochs", epochs));
    }
    // Each rate: a number fixes it, auto sweeps it, absent keeps the defaults' choice, except
    // that a fixed --ft-lr alone fixes the sign vectors' rate at 10x it (as before auto existed).
    Double fixedLr = lr == null || isAuto(lr) ? null : number("--ft-lr", lr);
    Double fixedSign = signLr == null || isAuto(signLr) ? null : number("--ft-sign-lr", signLr);
    boolean autoLr = lr == null ? o.autoLr() : fixedLr == null;
    boolean autoSign = signLr == null ? fixedLr == null && o.autoSignLr() : fixedSign == null;
    double others = fixedLr != null ? fixedLr : o.lr();
    double signs = fixedSign != null ? fixedSign
        : signLr == null && fixedLr != null ? 10 * fixedLr : o.signLr();
    o = o.withLearningRates(others, signs).withAutoLearningRates(autoLr, autoSign);
    if (batch != null) {
      o = o.withBatch(batch);
    }
    if (windows != null) {
      o = o.withWindows(windows);
    }
    if (budget != null) {
      o = o.withBudget(seconds(budget));
    }
    o = o.withDevice(choice("--ft-device", device, FineTuneOptions.Device.class));
    if (o.device() == FineTuneOptions.Device.CUDA) {
      FineTuning.requireDevice(o.device()); // before hours of quantization, not after
    }
    return o.withPrecision(choice("--ft-precision", precision, FineTuneOptions.Precision.class))
        .withKeepDecoded(keepDecoded);
  }

  private static boolean isAuto(String v) {
    return AUTO.equalsIgnoreCase(v.strip());
  }

  private static double number(String flag, String v) {
    try {
      return Double.parseDouble(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " " + v + " is neither a number nor auto");
    }
  }

  private static int integer(String flag, String v) {
    try {
      return Integer.parseInt(v.strip());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(flag + " " + v + " is neither a whole number nor auto");
    }
  }

  private static final Pattern DURATION = Pattern.compile("([0-9]*\\.?[0-9]+)\\s*([smh]?)");

  /** "90", "90s", "30m", "1.5h" in seconds. */
  static double seconds(String v) {
    Matcher m = DURATION.matcher(v.strip().toLowerCase(Locale.ROOT));
    if (!m.matches()) {
      throw new IllegalArgumentException("--ft-budget " + v + " is not a duration (seconds, or a "
          + "number with s, m or h, e.g. 90m)");
    }
    double x = Double.parseDouble(m.group(1));
    double s = switch (m.group(2)) {
      case "m" -> x * 60;
      case "h" -> x * 3600;
      default -> x;
    };
    if (!(s > 0)) {
      throw new IllegalArgumentException("--ft-budget " + v + " must be positive");
    }
    return s;
  }

  private static <E extends Enum<E>> E choice(String flag, String v, Class<E> type) {
    for (E e : type.getEnumConstants()) {
      if (e.name().equalsIgnoreCase(v.strip())) {
        return e;
      }
    }
    StringBuilder names = new StringBuilder();
    for (E e : type.getEnumConstants()) {
      names.append(names.length() > 0 ? ", " : "").append(e.name().toLowerCase(Locale.ROOT));
    }
    throw new IllegalArgumentException(flag + " " + v + " is not one of " + names);
  }

  /** "lr auto (around 5e-05), SU/SV 0.00100" for a settings line. */
  static String describeRates(FineTuneOptions o) {
    return String.format(Locale.ROOT, "lr %s, SU/SV %s, %s epochs, batch %d%s",
        o.autoLr() ? String.format(Locale.ROOT, "auto (sweep around %.3g)", o.lr())
            : String.format(Locale.ROOT, "%.3g", o.lr()),
        o.autoSignLr() ? String.format(Locale.ROOT, "auto (sweep around %.3g)", o.signLr())
            : String.format(Locale.ROOT, "%.3g", o.signLr()),
        o.autoEpochs() ? "auto" : String.valueOf(o.epochs()), o.batch(),
        o.budgetSeconds() > 0 ? String.format(Locale.ROOT, ", budget %.0f s", o.budgetSeconds()) : "");
  }
}
