package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.testing.ModelEdits;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java API stops on activations that overflow, naming the layer, and keeps windows and
 * generations within the model's context length unless told otherwise.
 */
class NonFiniteAndContextTest {
  @TempDir Path tmp;

  /** stories260K with layer {@code layer}'s gate and up weights times 1e25: its SwiGLU overflows. */
  Path overflowing(StoriesFixture f, int layer) throws Exception {
    String p = "model.layers." + layer + ".mlp.";
    return ModelEdits.copyWith(f.model, tmp.resolve("overflow" + layer), Map.of(
        p + "gate_proj.weight", ModelEdits.scaled(1e25f), p + "up_proj.weight",
        ModelEdits.scaled(1e25f)));
  }

  @Test
  void perplexityGenerationAndHessiansNameTheFirstNonFiniteLayer() throws Exception {
    StoriesFixture f = StoriesFixture.load();
    for (int layer : new int[] {0, 3}) {
      Path m = overflowing(f, layer);
      try (LlamaModel model = LlamaModel.load(m)) {
        // The layers before the edited one are untouched and stay finite.
        float[] h = model.embed(Arrays.copyOf(f.heldout, 64));
        for (int l = 0; l < layer; l++) {
          h = model.layerForward(l, h);
          assertTrue(NonFiniteActivationException.allFinite(h), "layer " + l);
        }
        NonFiniteActivationException e = assertThrows(NonFiniteActivationException.class,
            () -> Perplexity.evaluate(model, Arrays.copyOf(f.heldout, 600), 256, null));
        assertEquals(layer, e.layer(), e.getMessage());
        assertTrue(e.getMessage().contains("layer " + layer + " (model.layers." + layer + ")")
            && e.getMessage().contains("tokens 0..256"), e.getMessage());
        e = assertThrows(NonFiniteActivationException.class, () -> Generation.generate(model,
            Tokenizer.forModel(m), "Once upon a time", 20, Sampler.greedy(), null));
        assertEquals(layer, e.layer(), e.getMessage());
      }
      Path out = tmp.resolve("q" + layer);
      NonFiniteActivationException e = assertThrows(NonFiniteActivationException.class,
          () -> ModelQuantizer.quantize(m, f.calibration, QuantConfig.builder().bits(2).build(),
              out, ModelQuantizer.Options.builder().ctx(256).samples(2).build()));
      assertEquals(layer, e.layer(), e.getMessage());
      assertFalse(Files.exists(out), "a run that failed before its first group leaves nothing");
    }
  }

  /**
   * A block that meets a non-finite value inside refuses with the engine's QS_ERR_NON_FINITE
   * status as its own type, which is how {@link NonFiniteActivationException#locate} tells it from
   * any other refusal (not by the message's words).
   */
  @Test
  void aNonFiniteValueInsideABlockHasItsOwnType() throws Exception {
    StoriesFixture f = StoriesFixture.load();
    try (LlamaModel model = LlamaModel.load(f.model)) {
      float[] h = model.embed(Arrays.copyOf(f.heldout, 8));
      h[3] = Float.POSITIVE_INFINITY;
      float[] in = h;
      NonFiniteValueException e = assertThrows(NonFiniteValueException.class,
          () -> model.layerForward(0, in));
      assertTrue(e.getMessage().startsWith("layer 0 forward: "), e.getMessage());
      // Any other refusal of the engine stays a plain IllegalArgumentException.
      IllegalArgumentException other = assertThrows(IllegalArgumentException.class,
          () -> model.layerForward(99, Arrays.copyOf(in, model.config().dim())));
      assertFalse(other instanceof NonFiniteValueException, other.toString());
    }
  }

  @Test
  void windowsBeyondTheContextLengthAreRefusedUnlessAllowed() throws Exception {
    StoriesFixture f = StoriesFixture.load();
    IllegalArgumentException e;
    try (LlamaModel m = LlamaModel.load(f.model)) {
      assertEquals(512, m.config().maxSeqLen());
      int[] tokens = Arrays.copyOf(f.heldout, 1200);
      e = assertThrows(IllegalArgumentException.class,
          () -> Perplexity.evaluate(m, tokens, 513, null));
      assertTrue(e.getMessage().contains("ctx 513 exceeds the model's context length 512"),
          e.getMessage());
      assertEquals(1199, Perplexity.evaluate(m, tokens, 600, null, true).predictions());
      assertEquals(1199, Perplexity.evaluate(m, tokens, 512, null).predictions());
    }
    // Generation stops at the context length; allowed, it goes on (a 32-position copy of the
    // model, whose greedy story does not end that soon).
    Path short32 = ModelEdits.copyWith(f.model, tmp.resolve("ctx32"), Map.of());
    ModelEdits.editJson(short32.resolve("config.json"), o -> o.put("max_position_embeddings", 32));
    Tokenizer tok = Tokenizer.forModel(short32);
    int prompt = tok.encode("Once upon a time", true, false).length;
    try (LlamaModel m = LlamaModel.load(short32)) {
      Generation.Result within = Generation.generate(m, tok, "Once upon a time", 100,
          Sampler.greedy(), null);
      assertEquals(32, prompt + within.tokens().length);
      Generation.Result past = Generation.generate(m, tok, "Once upon a time", 40,
          Sampler.greedy(), null, true);
      assertEquals(40, past.tokens().length);
      assertTrue(Arrays.equals(within.tokens(), Arrays.copyOf(past.tokens(), within.tokens().length)),
          "the same greedy story up to the limit");
      String longPrompt = "Once upon a time there was a girl. ".repeat(10);
      e = assertThrows(IllegalArgumentException.class, () -> Generation.generate(m, tok,
          longPrompt, 5, Sampler.greedy(), null));
      assertTrue(e.getMessage().contains("context length of 32"), e.getMessage());
    }
    ContextTooLongException c = assertThrows(ContextTooLongException.class,
        () -> ModelQuantizer.quantize(f.model, f.calibration, QuantConfig.builder().bits(2).build(),
            tmp.resolve("q"), ModelQuantizer.Options.builder().ctx(1024).samples(1).build()));
    assertEquals(1024, c.length());
    assertEquals(512, c.contextLength());
    assertTrue(c.getMessage().contains("ctx 1024 exceeds the model's context length 512"),
        c.getMessage());
    assertFalse(c.getMessage().contains("--"), "the core names no flag: " + c.getMessage());
    assertFalse(Files.exists(tmp.resolve("q")));
  }
}
