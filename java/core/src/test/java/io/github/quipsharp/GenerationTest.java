package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.testing.SharedModels;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Generation against the README's greedy continuation of stories260K, and its stop tokens. */
class GenerationTest {
  /** ../shared/models/README.md: 40 greedy tokens after "Once upon a time". */
  static final int[] GREEDY = {
    432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419,
    292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432, 358, 394, 261, 370, 432, 352, 266, 268,
    388, 426
  };

  @Test
  void greedyContinuationAndStreamedText() {
    Path model = SharedModels.require("stories260K-hf");
    Tokenizer tok = Tokenizer.forModel(model);
    try (LlamaModel m = LlamaModel.load(model)) {
      StringBuilder pieces = new StringBuilder();
      Generation.Result r =
          Generation.generate(
              m, tok, "Once upon a time", 40, Sampler.builder().temperature(0).topP(1).seed(0).build(), pieces::append);
      assertEquals(5, r.promptTokens());
      assertArrayEquals(GREEDY, r.tokens());
      assertEquals(pieces.toString(), r.text());
      // The streamed text is the decoding of prompt and answer less the prompt's.
      int[] all = new int[5 + GREEDY.length];
      System.arraycopy(tok.encode("Once upon a time", true, false), 0, all, 0, 5);
      System.arraycopy(GREEDY, 0, all, 5, GREEDY.length);
      assertEquals(tok.decode(all), "Once upon a time" + r.text());
      assertTrue(r.text().startsWith(", there was a little girl named Lily."), r.text());
    }
  }

  @Test
  void stopsBeforeAnyStopToken() {
    Path model = SharedModels.require("stories260K-hf");
    Tokenizer tok = Tokenizer.forModel(model);
    int[] prompt = tok.encode("Once upon a time", true, false);
    try (LlamaModel m = LlamaModel.load(model)) {
      Sampler greedy = Sampler.builder().temperature(0).topP(1).seed(0).build();
      Generation.Result first =
          Generation.generate(m, tok, prompt, new int[] {GREEDY[0]}, 40, greedy, null);
      assertEquals(0, first.tokens().length);
      assertEquals("", first.text());
      Generation.Result sixth =
          Generation.generate(m, tok, prompt, new int[] {-1, GREEDY[5], 99999}, 40, greedy, null);
      assertArrayEquals(Arrays.copyOf(GREEDY, 5), sixth.tokens());
      assertEquals(tok.decode(Arrays.copyOf(GREEDY, 5)), sixth.text().stripLeading());
      assertThrows(
          IllegalArgumentException.class,
          () -> Generation.generate(m, tok, new int[0], new int[0], 4, greedy, null));
    }
  }
}
