package io.github.quipsharp;

import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** stories260K (HF layout) with the calibration / held-out split of tinystories-sample.txt. */
final class StoriesFixture {
  final Path model;
  final int[] all;
  final int[] calibration;
  final int[] heldout;

  private StoriesFixture(Path model, int[] all) {
    this.model = model;
    this.all = all;
    this.calibration = CalibrationSplit.calibration(all, 0.75);
    this.heldout = CalibrationSplit.heldout(all, 0.75);
  }

  /** Skips the calling test when the shared files are absent. */
  static StoriesFixture load() {
    Path model = SharedModels.require("stories260K-hf");
    Path text = SharedModels.require("tinystories-sample.txt");
    try {
      Tokenizer tok = Tokenizer.forModel(model);
      return new StoriesFixture(model, tok.encode(Files.readString(text, StandardCharsets.UTF_8), true, false));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  double heldoutPpl(Path modelOrCheckpoint) {
    try (LlamaModel m = LlamaModel.load(modelOrCheckpoint)) {
      return Perplexity.evaluate(m, heldout, 256, null).ppl();
    }
  }
}
