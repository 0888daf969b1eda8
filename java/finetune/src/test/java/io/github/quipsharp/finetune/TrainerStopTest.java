package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.ProgressListener;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Why training stops, on the toy problem of {@link LearningRateSweepTest} (training windows pull
 * the parameters to 1, validation windows to 0.3): a fixed number of epochs, early stopping under
 * auto epochs, and the wall-time budget; each reported through the listener.
 */
class TrainerStopTest {
  static final int[] TRAIN = LearningRateSweepTest.TRAIN;
  static final int[] VALID = LearningRateSweepTest.VALID;

  static Trainer trainer(LearningRateSweepTest.Pull pull, int epochs, double budget) {
    return new Trainer(pull.params(), new Trainer.Settings(epochs, 4, 0.03, 0.03, 3, 1, budget));
  }

  static List<String> run(Trainer t, LearningRateSweepTest.Pull pull) throws Exception {
    List<String> lines = new ArrayList<>();
    t.run("toy", TRAIN, VALID, pull, new ProgressListener() {
      @Override
      public void info(String message) {
        lines.add(message);
      }
    }, null);
    return lines;
  }

  @Test
  void fixedEpochsRunToTheEnd() throws Exception {
    LearningRateSweepTest.Pull pull = new LearningRateSweepTest.Pull();
    Trainer t = trainer(pull, 3, 0);
    List<String> lines = run(t, pull);
    assertEquals(Trainer.StopReason.EPOCHS, t.stopReason());
    assertEquals(3, t.epochsDone());
    assertTrue(lines.get(lines.size() - 1).contains("the 3 epochs set ran"), lines.toString());
  }

  @Test
  void autoEpochsStopWhenTheValidationLossStopsImproving() throws Exception {
    // The parameters run past 0.3 towards 1: the validation loss falls, then rises.
    LearningRateSweepTest.Pull pull = new LearningRateSweepTest.Pull();
    Trainer t = trainer(pull, FineTuneOptions.AUTO_EPOCHS, 0);
    List<String> lines = run(t, pull);
    assertEquals(Trainer.StopReason.EARLY_STOPPING, t.stopReason());
    // Stopped 3 epochs after the last improvement of 0.1 % or more (the best may be a later,
    // smaller improvement).
    assertTrue(t.epochsDone() - t.bestEpoch() <= 3 && t.epochsDone() >= 4, t.history().toString());
    assertTrue(t.epochsDone() < FineTuneOptions.MAX_AUTO_EPOCHS);
    double best = t.history().stream().skip(1).mapToDouble(TuningEpoch::valid).min().orElseThrow();
    assertEquals(best, t.bestValid());
    // The best state is restored: its loss, not the last epoch's.
    assertEquals(t.bestValid(), t.validate(VALID, pull), 1e-6);
    assertTrue(lines.get(lines.size() - 1).contains("early stopping"), lines.toString());
  }

  @Test
  void theBudgetStopsTraining() throws Exception {
    LearningRateSweepTest.Pull pull = new LearningRateSweepTest.Pull();
    Trainer t = trainer(pull, FineTuneOptions.AUTO_EPOCHS, 1e-6);
    List<String> lines = run(t, pull);
    assertEquals(Trainer.StopReason.BUDGET, t.stopReason());
    assertEquals(0, t.epochsDone(), "the validation before training used up the budget");
    assertTrue(lines.get(lines.size() - 1).contains("wall-time budget"), lines.toString());
  }
}
