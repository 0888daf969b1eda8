package io.github.quipsharp.bench;

import io.github.quipsharp.CalibrationSplit;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * stories260K (HF layout) and tinystories-sample.txt split as the README's tables use them:
 * calibration = the first 75 % of the tokens, held-out = the rest.
 */
record StoriesSplit(Path model, int[] calibration, int[] heldout) {
  static StoriesSplit load(Path models) throws IOException {
    Path model = models.resolve("stories260K-hf");
    int[] all = Tokenizer.forModel(model).encode(Files.readString(
        models.resolve("tinystories-sample.txt"), StandardCharsets.UTF_8), true, false);
    return new StoriesSplit(model, CalibrationSplit.calibration(all, 0.75),
        CalibrationSplit.heldout(all, 0.75));
  }
}
