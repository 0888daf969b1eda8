package io.github.quipsharp.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.finetune.EndToEndTuner;
import io.github.quipsharp.finetune.FineTuneOptions;
import io.github.quipsharp.finetune.FineTuning;
import io.github.quipsharp.internal.KernelBenchmarks;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The cost of end-to-end fine-tuning by model depth (README "Fine-tuning: memory and time per
 * block"): one run of {@link EndToEndTuner} on a quantized checkpoint at fixed learning rates
 * (no sweep), recording the wall time and the process CPU time of every training step (the CPU
 * time is the figure to read on a shared machine), the decode statistics and, at the
 * end, this JVM's peak resident memory (VmHWM); one JSON line is appended to OUT. Run it once per
 * model in a fresh JVM (bench/finetune/scale.sh), so that each peak is that model's alone.
 *
 * <p>Usage: {@code java -Dorg.bytedeco.javacpp.maxPhysicalBytes=0 -cp bench/target/benchmarks.jar
 * io.github.quipsharp.bench.FineTuneScale FP_MODEL CHECKPOINT TEXT CTX WINDOWS EPOCHS WORK_DIR OUT.jsonl}
 */
public final class FineTuneScale {
  private FineTuneScale() {}

  public static void main(String[] args) throws Exception {
    Path fp = Path.of(args[0]);
    Path checkpoint = Path.of(args[1]);
    Path text = Path.of(args[2]);
    int ctx = Integer.parseInt(args[3]);
    int windows = Integer.parseInt(args[4]);
    int epochs = Integer.parseInt(args[5]);
    Path work = Path.of(args[6]);
    Path out = Path.of(args[7]);
    LlamaConfig c;
    try (ModelSource src = ModelSource.open(fp)) {
      c = src.config();
    }
    int[] cal = CalibrationSplit.calibration(
        Tokenizer.forModel(fp).encode(Files.readString(text), true, false), 0.75);
    List<Double> steps = new ArrayList<>();
    List<Double> stepCpu = new ArrayList<>();
    long[] last = {System.nanoTime()};
    long[] lastCpu = {cpuNanos()};
    List<String> notes = new ArrayList<>();
    ProgressListener timing = new ProgressListener() {
      @Override
      public void tuningStep(String stage, int epoch, int step, int n, double loss) {
        long now = System.nanoTime();
        long cpu = cpuNanos();
        steps.add((now - last[0]) / 1e9);
        stepCpu.add((cpu - lastCpu[0]) / 1e9);
        last[0] = now;
        lastCpu[0] = cpu;
      }

      @Override
      public void tuningEpoch(String stage, int epoch, int n, double train, double valid) {
        last[0] = System.nanoTime(); // a validation pass is not a step
        lastCpu[0] = cpuNanos();
        // Epoch 0 is the validation of the untrained model: no training loss yet.
        System.out.printf(Locale.ROOT, "epoch %d: train %s valid %.5f%n", epoch,
            Double.isNaN(train) ? "-" : String.format(Locale.ROOT, "%.5f", train), valid);
      }

      @Override
      public void info(String message) {
        notes.add(message);
        System.out.println(message);
        last[0] = System.nanoTime();
        lastCpu[0] = cpuNanos();
      }
    };
    FineTuning.resetDecodeStatistics();
    long t0 = System.nanoTime();
    EndToEndTuner.Report r = EndToEndTuner.tune(checkpoint, fp, cal, ctx, work,
        FineTuneOptions.E2E_DEFAULTS.withEpochs(epochs).withWindows(windows), timing);
    double seconds = (System.nanoTime() - t0) / 1e9;
    FineTuning.DecodeStatistics d = FineTuning.decodeStatistics();
    ObjectMapper om = new ObjectMapper();
    ObjectNode o = om.createObjectNode();
    o.put("machine", KernelBenchmarks.machineDescription());
    o.put("checkpoint", checkpoint.toString());
    o.put("layers", c.layers());
    o.put("dim", c.dim());
    o.put("hidden", c.hiddenDim());
    o.put("vocab", c.vocabSize());
    o.put("ctx", ctx);
    o.put("windows", windows);
    o.put("batch", FineTuneOptions.E2E_DEFAULTS.batch());
    o.put("epochs", r.epochs());
    o.put("seconds_total", seconds);
    ArrayNode s = o.putArray("step_seconds");
    steps.forEach(s::add);
    o.put("mean_step_seconds", steps.stream().mapToDouble(Double::doubleValue).average().orElse(0));
    ArrayNode sc = o.putArray("step_cpu_seconds");
    stepCpu.forEach(sc::add);
    o.put("mean_step_cpu_seconds", stepCpu.stream().mapToDouble(Double::doubleValue).average().orElse(0));
    o.put("cpu_seconds_total", cpuNanos() / 1e9);
    o.put("load_average_end", java.lang.management.ManagementFactory.getOperatingSystemMXBean()
        .getSystemLoadAverage());
    o.put("decodes", d.decodes());
    o.put("decode_seconds", d.seconds());
    o.put("peak_decoded_bytes", d.peakBytes());
    o.put("vm_hwm_bytes", status("VmHWM"));
    o.put("vm_rss_bytes", status("VmRSS"));
    ArrayNode n = o.putArray("notes");
    notes.forEach(n::add);
    Files.writeString(out, om.writeValueAsString(o) + "\n", StandardOpenOption.CREATE,
        StandardOpenOption.APPEND);
    System.out.printf(Locale.ROOT, "%d layers: %.2f s per step (%.2f s CPU; %d steps), %d decodes "
        + "in %.1f s, peak decoded %.2f GB, peak RSS %.2f GB%n", c.layers(),
        o.get("mean_step_seconds").asDouble(), o.get("mean_step_cpu_seconds").asDouble(),
        steps.size(), d.decodes(), d.seconds(), d.peakBytes() / 1e9, status("VmHWM") / 1e9);
  }

  /** CPU time of this process (all threads: Java, libtorch's and the native engine's). */
  static long cpuNanos() {
    return ((com.sun.management.OperatingSystemMXBean)
        java.lang.management.ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
  }

  /** A "kB" line of /proc/self/status in bytes. */
  static long status(String key) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
      if (line.startsWith(key + ":")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }
}
