package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What differs between the settings an interrupted run recorded ({@code run.json}) and those of
 * the run that wants to resume it, as one line naming each setting with its old and new value —
 * instead of a dump of the whole file.
 */
public final class SettingsDiff {
  /** The command-line flag behind a settings key, where there is one. */
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
      // end-to-end fine-tuning's run.json (EndToEndTuner)
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

  private SettingsDiff() {}

  /**
   * One setting that differs.
   *
   * @param key the setting's path in the settings object (e.g. "quant_config.bits", "model_files")
   * @param name how the message names it (the key, or e.g. "model file model.safetensors")
   * @param change what changed (e.g. "was 2, now 3", "is gone")
   */
  public record Difference(String key, String name, String change) {
    /** "name change", naming no command-line flag. */
    public String describe() {
      return name + " " + change;
    }

    /** "name (flag) change" with the flag the command line sets it with, where there is one. */
    public String describeWithFlag() {
      String flag = FLAGS.get(key);
      return flag == null ? describe() : name + " (" + flag + ") " + change;
    }
  }

  /** The differences, or null when {@code saved} and {@code now} are equal. */
  public static String describe(JsonNode saved, JsonNode now) {
    return describe("", saved, now);
  }

  /**
   * The differences of two settings objects that sit at {@code path} of a larger one (e.g.
   * "options"), named by their full paths and flags; null when they are equal.
   */
  public static String describe(String path, JsonNode saved, JsonNode now) {
    List<Difference> out = differences(path, saved, now);
    return out.isEmpty() ? null : describeWithFlags(out);
  }

  /** The differences joined by "; ", each named with its flag. */
  public static String describeWithFlags(List<Difference> differences) {
    return String.join("; ", differences.stream().map(Difference::describeWithFlag).toList());
  }

  /** Each difference of two settings objects at {@code path} ("" for the top), in key order. */
  public static List<Difference> differences(String path, JsonNode saved, JsonNode now) {
    List<Difference> out = new ArrayList<>();
    diff(path, saved, now, out);
    return out;
  }

  private static void diff(String path, JsonNode a, JsonNode b, List<Difference> out) {
    if (a != null && b != null && a.equals(b)) {
      return;
    }
    if (path.equals("model_files") && a != null && b != null && a.isObject() && b.isObject()) {
      TreeSet<String> files = new TreeSet<>(); // file names have dots: not a path below
      a.fieldNames().forEachRemaining(files::add);
      b.fieldNames().forEachRemaining(files::add);
      for (String f : files) {
        if (a.get(f) == null || !a.get(f).equals(b.get(f))) {
          out.add(fileDiff(path, "model file " + f, a.get(f), b.get(f)));
        }
      }
      return;
    }
    if (path.equals("tokenizer")) {
      out.add(fileDiff(path, "tokenizer file", a, b));
      return;
    }
    if (a != null && b != null && a.isObject() && b.isObject() && !FLAGS.containsKey(path)) {
      TreeSet<String> keys = new TreeSet<>();
      a.fieldNames().forEachRemaining(keys::add);
      b.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        diff(path.isEmpty() ? k : path + "." + k, a.get(k), b.get(k), out);
      }
      return;
    }
    out.add(new Difference(path, path, "was " + show(a) + ", now " + show(b)));
  }

  /** "model file X differs (crc32c a, now b)", "... was added", "... is gone". */
  private static Difference fileDiff(String key, String what, JsonNode a, JsonNode b) {
    if (a == null || a.isNull() || a.isMissingNode()) {
      return new Difference(key, (what + " " + name(b)).strip(), "is new (the interrupted run had none)");
    }
    if (b == null || b.isNull() || b.isMissingNode()) {
      return new Difference(key, (what + " " + name(a)).strip(), "is gone");
    }
    List<String> fields = new ArrayList<>();
    for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!a.get(k).equals(b.get(k))) {
        fields.add(k + " " + show(a.get(k)) + ", now " + show(b.get(k)));
      }
    }
    return new Difference(key, (what + " " + name(b)).strip(), "differs from the interrupted run's ("
        + String.join(", ", fields) + ")");
  }

  private static String name(JsonNode file) {
    return file != null && file.has("file") ? file.get("file").asText() + " " : "";
  }

  private static String show(JsonNode v) {
    if (v == null || v.isMissingNode()) {
      return "(none)";
    }
    String s = v.isTextual() ? v.asText() : v.toString();
    return s.length() > 80 ? s.substring(0, 77) + "..." : s;
  }
}
