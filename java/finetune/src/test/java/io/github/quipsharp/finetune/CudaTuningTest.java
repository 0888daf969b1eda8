package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.safetensors.SafetensorsFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device CUDA ({@code FineTuneOptions.device}): on a machine whose libtorch sees a CUDA device (Maven profile
 * torch-cuda), end-to-end tuning of a synthetic 2-bit model on the GPU against the same run on
 * the CPU; without one, a clear error before anything is written. {@code -Pgpu} turns the skip of
 * the GPU test into a failure.
 */
class CudaTuningTest {
  static final int CTX = 16;

  @TempDir Path tmp;

  @AfterEach
  void backToTheCpu() {
    Torch.use(FineTuneOptions.Device.CPU);
  }

  @Test
  void withoutACudaDeviceTheRunStopsWithOneClearMessage() throws Exception {
    Assumptions.assumeFalse(FineTuning.cudaAvailable(), "a CUDA device is present");
    LlamaConfig c = SyntheticCheckpoints.config(1);
    int[] cal = SyntheticCheckpoints.tokens(c, 8 * CTX, 1);
    Path[] fpAndQ = SyntheticCheckpoints.write(tmp, c, cal, CTX);
    Path out = tmp.resolve("out");
    FineTuneException e = assertThrows(FineTuneException.class, () -> EndToEndTuner.tune(
        fpAndQ[1], fpAndQ[0], cal, CTX, out, FineTuneOptions.E2E_DEFAULTS.withEpochs(1)
            .withDevice(FineTuneOptions.Device.CUDA), null));
    assertTrue(e.getMessage().startsWith("the device CUDA (FineTuneOptions.device): libtorch sees "
        + "no CUDA device"), e.getMessage());
    assertEquals(FineTuneException.Remedy.USE_THE_CPU_DEVICE, e.remedy());
    assertFalse(e.getMessage().contains("\n"), "one line");
    assertFalse(Files.exists(out), "nothing written");
  }

  @Test
  void tuningOnTheGpuMatchesTheCpu() throws Exception {
    if (!FineTuning.cudaAvailable()) {
      String why = "libtorch sees no CUDA device (the CPU build of the PyTorch preset, or no GPU)";
      if (Boolean.getBoolean("quipsharp.gpu.required")) {
        fail("-Pgpu requires a CUDA device; " + why);
      }
      Assumptions.abort(why);
    }
    LlamaConfig c = SyntheticCheckpoints.config(2);
    int[] cal = SyntheticCheckpoints.tokens(c, 12 * CTX, 2);
    Path[] fpAndQ = SyntheticCheckpoints.write(tmp, c, cal, CTX);
    FineTuneOptions opt = FineTuneOptions.E2E_DEFAULTS.withEpochs(2);
    EndToEndTuner.Report cpu = EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX,
        tmp.resolve("cpu"), opt, null);
    EndToEndTuner.Report gpu = EndToEndTuner.tune(fpAndQ[1], fpAndQ[0], cal, CTX,
        tmp.resolve("gpu"), opt.withDevice(FineTuneOptions.Device.CUDA), null);
    System.out.printf("validation loss cpu %.6f, gpu %.6f%n", cpu.bestValidLoss(), gpu.bestValidLoss());
    assertEquals(cpu.bestValidLoss(), gpu.bestValidLoss(), 1e-3 * cpu.bestValidLoss());
    try (SafetensorsFile a = SafetensorsFile.open(tmp.resolve("cpu/model.safetensors"));
        SafetensorsFile b = SafetensorsFile.open(tmp.resolve("gpu/model.safetensors"))) {
      float[] x = a.readFloats("model.layers.1.mlp.down_proj.SV");
      float[] y = b.readFloats("model.layers.1.mlp.down_proj.SV");
      for (int i = 0; i < x.length; i++) {
        assertEquals(x[i], y[i], 1e-2 * Math.abs(x[i]) + 1e-4, "SV[" + i + "]");
      }
    }
  }
}
