package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ProgressListener;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.IntStream;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The learning-rate sweep on a problem whose answer is known: two parameters start at 0, every
 * training window pulls them towards 1, every validation window towards 0.3. Adam moves a
 * parameter by about its learning rate per step while the gradient keeps its sign, so after the
 * sweep's 8 steps (2 epochs over the slice of 4 of the 16 training windows, batch 1) the rates
 * 0.01, 0.03, 0.1, 0.3 leave it near 0.08, 0.24, 0.8 and beyond 1: the training loss favours 0.1,
 * the validation loss 0.03 (its best after either epoch: 0.0036 against 0.01 for 0.1, which is
 * closest to 0.3 after its first epoch). Windows 20–23 stand for the evaluation text: the data
 * holds them, the sweep must never touch them.
 */
class LearningRateSweepTest {
  static final int[] TRAIN = IntStream.range(0, 16).toArray();
  static final int[] VALID = IntStream.range(16, 20).toArray();
  static final FineTuneOptions OPT = FineTuneOptions.E2E_DEFAULTS.withBatch(1)
      .withLearningRates(0.01, 0.01).withAutoLearningRates(true, true);

  @TempDir Path tmp;

  /** Squared distance of both parameters to the window's target, recording the windows asked. */
  static final class Pull implements Trainer.Objective {
    final Tensor weight = Torch.of(new float[4], 4);
    final Tensor sign = Torch.of(new float[4], 4);
    final Set<Integer> seen = new TreeSet<>();

    List<TorchLlama.Param> params() {
      return List.of(new TorchLlama.Param("w", weight, false), new TorchLlama.Param("s", sign, true));
    }

    Tensor loss(int[] windows, boolean record) {
      double sum = 0;
      Tensor total = null;
      for (int w : windows) {
        if (record) {
          seen.add(w);
        }
        float target = w < 16 ? 1f : w < 20 ? 0.3f : -5f;
        Tensor t = Torch.of(new float[] {target, target, target, target}, 4);
        Tensor l = weight.sub(t).square().mean().add(sign.sub(t).square().mean());
        if (Torch.floats(weight)[0] > 2 || Torch.floats(sign)[0] > 2) { // "diverged"
          l = l.mul(new org.bytedeco.pytorch.Scalar(Double.NaN));
        }
        total = total == null ? l : total.add(l);
      }
      return total.div(new org.bytedeco.pytorch.Scalar((double) windows.length));
    }

    @Override
    public double loss(int[] windows) {
      try (PointerScope s = new PointerScope()) {
        return loss(windows, true).item_double();
      }
    }

    @Override
    public double lossAndGradients(int[] windows) {
      try (PointerScope s = new PointerScope()) {
        Tensor l = loss(windows, true);
        l.backward();
        return l.item_double();
      }
    }
  }

  @Test
  void picksTheRatesWithTheLowestValidationLossAndReadsOnlyItsSliceAndTheValidationWindows() {
    Pull pull = new Pull();
    LearningRateSweep.Result r = LearningRateSweep.run("toy", pull.params(), OPT, 0, TRAIN, VALID,
        pull, ProgressListener.NONE, null, 0, true);
    assertEquals(16, r.points().size(), "4 x 4 grid");
    LearningRateSweep.Point best = r.points().stream()
        .min((a, b) -> Double.compare(a.validLoss(), b.validLoss())).orElseThrow();
    for (LearningRateSweep.Point p : r.points()) {
      System.out.printf("lr %.2f sign %.2f: validation %.5f%n", p.lr(), p.signLr(), p.validLoss());
    }
    assertEquals(best, r.chosen(), "the chosen point has the lowest validation loss");
    assertEquals(0.03, r.chosen().lr(), 1e-12, "validation loss picks 3x (training loss would pick 10x)");
    assertEquals(0.03, r.chosen().signLr(), 1e-12);
    assertEquals(new TreeSet<>(List.of(0, 4, 8, 12, 16, 17, 18, 19)), pull.seen,
        "only the slice of the training windows and the validation windows are read");
    assertArrayEquals(new float[4], Torch.floats(pull.weight), "parameters restored after the sweep");
    assertArrayEquals(new float[4], Torch.floats(pull.sign));
  }

  @Test
  void anInterruptedSweepContinuesWithTheNextPointAndEndsTheSame() {
    Pull whole = new Pull();
    LearningRateSweep.Result ref = LearningRateSweep.run("toy", whole.params(), OPT, 0, TRAIN,
        VALID, whole, ProgressListener.NONE, tmp.resolve("whole.json"), 0, true);
    Path state = tmp.resolve("cut.json");
    ProgressListener stopAtPoint6 = new ProgressListener() {
      @Override
      public void tuningStep(String stage, int epoch, int step, int steps, double loss) {
        if (stage.equals("toy lr sweep 6/16") && epoch == 2) {
          throw new IllegalStateException("interrupted");
        }
      }
    };
    Pull first = new Pull();
    assertThrows(IllegalStateException.class, () -> LearningRateSweep.run("toy", first.params(),
        OPT, 0, TRAIN, VALID, first, stopAtPoint6, state, 0, true));
    int[] trained = {0};
    ProgressListener count = new ProgressListener() {
      @Override
      public void tuningStep(String stage, int epoch, int step, int steps, double loss) {
        if (step == 1 && epoch == 1) {
          trained[0]++;
        }
      }
    };
    Pull second = new Pull();
    LearningRateSweep.Result resumed = LearningRateSweep.run("toy", second.params(), OPT, 0, TRAIN,
        VALID, second, count, state, 0, true);
    assertEquals(11, trained[0], "points 1-5 were saved; 6-16 run again");
    assertEquals(ref.points().size(), resumed.points().size());
    for (int i = 0; i < ref.points().size(); i++) {
      assertEquals(ref.points().get(i).validLoss(), resumed.points().get(i).validLoss(),
          "point " + (i + 1));
    }
    assertEquals(ref.chosen().lr(), resumed.chosen().lr());
    assertEquals(ref.chosen().signLr(), resumed.chosen().signLr());
  }

  @Test
  void divergedPointsAreRecordedAndNeverChosen() {
    // The toy's loss turns NaN once a parameter passes 2: rates 1 and 3 get there at once.
    Pull pull = new Pull();
    FineTuneOptions big = OPT.withLearningRates(0.1, 0.1).withAutoLearningRates(true, true);
    LearningRateSweep.Result r = LearningRateSweep.run("toy", pull.params(), big, 0, TRAIN, VALID,
        pull, ProgressListener.NONE, null, 0, true);
    long diverged = r.points().stream().filter(LearningRateSweep.Point::diverged).count();
    assertTrue(diverged >= 4 && diverged < 16, diverged + " of 16 diverged");
    assertTrue(!r.chosen().diverged());
    for (LearningRateSweep.Point p : r.points()) {
      assertTrue(p.diverged() || p.validLoss() >= r.chosen().validLoss());
    }
    assertArrayEquals(new float[4], Torch.floats(pull.weight), "restored after diverged points too");
    Pull all = new Pull();
    FineTuneException e = assertThrows(FineTuneException.class, () -> LearningRateSweep.run("toy",
        all.params(), OPT.withLearningRates(3, 3).withAutoLearningRates(true, true), 0, TRAIN,
        VALID, all, ProgressListener.NONE, null, 0, true));
    assertTrue(e.getMessage().contains("every learning rate of the sweep diverged"), e.getMessage());
    assertEquals(FineTuneException.Remedy.LOWER_BOTH_LEARNING_RATES, e.remedy());
    assertTrue(e.getMessage().endsWith("set the learning rates lower (FineTuneOptions.lr and "
        + "FineTuneOptions.signLr)"), e.getMessage());
  }
}
