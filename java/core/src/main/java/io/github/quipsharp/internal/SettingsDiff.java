package io.github.quipsharp.internal;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.SettingDifference;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * What differs between the settings an interrupted run recorded ({@code run.json}) and those of
 * the run that wants to resume it, as one line naming each setting with its old and new value —
 * instead of a dump of the whole file. Settings are named by their keys; a command line adds its
 * flags (java/cli-options' SettingFlags).
 */
public final class SettingsDiff {
  /**
   * Settings compared as a whole rather than key by key: one difference names the block (the
   * blockwise fine-tuning settings are one choice of the run).
   */
  private static final Set<String> WHOLE = Set.of("blockwise_finetune");

  private SettingsDiff() {}

  /** The differences, or null when {@code saved} and {@code now} are equal. */
  public static String describe(JsonNode saved, JsonNode now) {
    return describe("", saved, now);
  }

  /**
   * The differences of two settings objects that sit at {@code path} of a larger one (e.g.
   * "options"), named by their full paths; null when they are equal.
   */
  public static String describe(String path, JsonNode saved, JsonNode now) {
    List<SettingDifference> out = differences(path, saved, now);
    return out.isEmpty() ? null : describe(out);
  }

  /** The differences joined by "; ", each named by its settings key. */
  public static String describe(List<SettingDifference> differences) {
    return String.join("; ", differences.stream().map(SettingDifference::describe).toList());
  }

  /** Each difference of two settings objects at {@code path} ("" for the top), in key order. */
  public static List<SettingDifference> differences(String path, JsonNode saved, JsonNode now) {
    List<SettingDifference> out = new ArrayList<>();
    diff(path, saved, now, out);
    return out;
  }

  private static void diff(String path, JsonNode a, JsonNode b, List<SettingDifference> out) {
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
    if (a != null && b != null && a.isObject() && b.isObject() && !WHOLE.contains(path)) {
      TreeSet<String> keys = new TreeSet<>();
      a.fieldNames().forEachRemaining(keys::add);
      b.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        diff(path.isEmpty() ? k : path + "." + k, a.get(k), b.get(k), out);
      }
      return;
    }
    out.add(new SettingDifference(path, path, "was " + show(a) + ", now " + show(b)));
  }

  /** "model file X differs (crc32c a, now b)", "... was added", "... is gone". */
  private static SettingDifference fileDiff(String key, String what, JsonNode a, JsonNode b) {
    if (a == null || a.isNull() || a.isMissingNode()) {
      return new SettingDifference(key, (what + " " + name(b)).strip(), "is new (the interrupted run had none)");
    }
    if (b == null || b.isNull() || b.isMissingNode()) {
      return new SettingDifference(key, (what + " " + name(a)).strip(), "is gone");
    }
    List<String> fields = new ArrayList<>();
    for (Iterator<String> it = a.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!a.get(k).equals(b.get(k))) {
        fields.add(k + " " + show(a.get(k)) + ", now " + show(b.get(k)));
      }
    }
    return new SettingDifference(key, (what + " " + name(b)).strip(), "differs from the interrupted run's ("
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
