package io.github.quipsharp.spark;

import io.github.quipsharp.LinearGroup;
import java.io.Serializable;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;

/**
 * Fault injection for tests ({@code --fail-once TASK}): the first attempt of the named task fails,
 * and Spark's retry must then give the same result as a clean run. In local mode (the executor is
 * the driver's JVM) the task throws; in an executor JVM of its own (local-cluster, a real cluster)
 * the task halts that JVM at once, as {@code kill -9} would: no shutdown hook, no cleanup, its
 * persisted partitions lost. TASK is {@code hessian:<layer>}
 * (the Phase A task of that layer on window chunk 0) or {@code quantize:<layer>.<group>} with group
 * qkv, o, up or down; layers count from 0.
 */
record FailOnce(String task) implements Serializable {
  static final FailOnce NONE = new FailOnce(null);

  /** Parses and checks TASK against a model of {@code layers} layers; a one-line message if bad. */
  static FailOnce parse(String spec, int layers) {
    if (spec == null) {
      return NONE;
    }
    String bad = "--fail-once " + spec + " must be hessian:<layer> or quantize:<layer>.<qkv|o|up|down>"
        + " with a layer in 0.." + (layers - 1);
    try {
      if (spec.startsWith("hessian:")) {
        checkLayer(Integer.parseInt(spec.substring("hessian:".length())), layers, bad);
        return new FailOnce(spec);
      }
      if (spec.startsWith("quantize:")) {
        String[] p = spec.substring("quantize:".length()).split("\\.", -1);
        if (p.length != 2) {
          throw new IllegalArgumentException(bad);
        }
        checkLayer(Integer.parseInt(p[0]), layers, bad);
        LinearGroup.ofKey(p[1]);
        return new FailOnce(spec);
      }
    } catch (IllegalArgumentException e) { // NumberFormatException and unknown groups too
      throw new IllegalArgumentException(bad);
    }
    throw new IllegalArgumentException(bad);
  }

  private static void checkLayer(int layer, int layers, String bad) {
    if (layer < 0 || layer >= layers) {
      throw new IllegalArgumentException(bad);
    }
  }

  static String hessianTask(int layer) {
    return "hessian:" + layer;
  }

  static String quantizeTask(int layer, LinearGroup g) {
    return "quantize:" + layer + "." + g.key();
  }

  /** Fails the first attempt of the task named {@code name}. */
  void check(String name) {
    TaskContext ctx = TaskContext.get();
    if (task != null && task.equals(name) && ctx != null && ctx.attemptNumber() == 0) {
      SparkEnv env = SparkEnv.get();
      if (env != null && !"driver".equals(env.executorId())) {
        System.err.println("--fail-once " + name + ": halting executor " + env.executorId());
        Runtime.getRuntime().halt(137);
      }
      throw new IllegalStateException("injected failure of the first attempt of " + name
          + " (--fail-once)");
    }
  }
}
