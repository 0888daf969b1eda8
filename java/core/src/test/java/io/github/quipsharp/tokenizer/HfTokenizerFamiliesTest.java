package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The tokenizer.json of today's families (Llama 3, Qwen 3, Gemma 3, Mistral) against the Hugging
 * Face tokenizers library: the fixtures written by tools/fixtures/make_tokenizer_fixtures.py
 * (Python tokenizers 0.23.2 on a multilingual text of our own, and random id sequences) and the
 * reference figures of ../shared/models/README.md.
 */
class HfTokenizerFamiliesTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Map<String, HfTokenizer> LOADED = new HashMap<>();

  static Stream<String> families() {
    return Stream.of("llama3", "qwen3", "gemma3", "mistral");
  }

  /** Each family's file is loaded once (Gemma 3's is 33 MB); the load time is printed. */
  static synchronized HfTokenizer load(String family) {
    HfTokenizer tok = LOADED.get(family);
    if (tok == null) {
      var file = SharedModels.require(family + "-tokenizer/tokenizer.json");
      long t0 = System.nanoTime();
      tok = assertInstanceOf(HfTokenizer.class, Tokenizer.load(file));
      System.out.printf(
          Locale.ROOT, "%s: loaded in %.2f s%n", family, (System.nanoTime() - t0) / 1e9);
      LOADED.put(family, tok);
    }
    return tok;
  }

  static JsonNode fixture(String name) {
    try (InputStream in = HfTokenizerFamiliesTest.class.getResourceAsStream(name)) {
      assertTrue(in != null, "missing test resource " + name);
      return JSON.readTree(in);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static int[] ints(JsonNode array) {
    int[] out = new int[array.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = array.get(i).asInt();
    }
    return out;
  }

  /** The stream decoder's pieces joined. */
  static String streamed(Tokenizer tok, int[] ids) {
    return TokenizerRoundTripTest.streamed(tok, ids);
  }

  // ---- ../shared/models/README.md ----------------------------------------------------------------

  record Reference(int vocab, int bos, int eos, int count, int[] first, int[] last, int[] once) {}

  static final Map<String, Reference> README =
      Map.of(
          "llama3",
          new Reference(
              128_256, 128_000, 128_009, 33_605,
              new int[] {128000, 4054, 1938, 11, 264, 2697, 3828, 7086},
              new int[] {704, 315, 433, 627},
              new int[] {128000, 12805, 5304, 264, 892}),
          "qwen3",
          new Reference(
              151_669, -1, 151_645, 33_606,
              new int[] {3966, 1899, 11, 264, 2632, 3743, 6941, 47290},
              new int[] {700, 315, 432, 624},
              new int[] {12522, 5193, 264, 882}),
          "gemma3",
          new Reference(
              262_145, 2, 106, 34_522,
              new int[] {2, 4906, 1719, 236764, 496, 2268, 3953, 7489},
              new int[] {529, 625, 236761, 107},
              new int[] {2, 14946, 3324, 496, 990}),
          "mistral",
          new Reference(
              32_000, 1, 2, 37_132,
              new int[] {1, 2387, 1370, 28725, 264, 1628, 2746, 5160},
              new int[] {302, 378, 28723, 13},
              new int[] {1, 5713, 3714, 264, 727}));

  @ParameterizedTest
  @MethodSource("families")
  void readmeFigures(String family) throws IOException {
    HfTokenizer tok = load(family);
    Reference ref = README.get(family);
    assertEquals(ref.vocab(), tok.vocabSize());
    assertEquals(ref.bos(), tok.bosId());
    assertEquals(ref.eos(), tok.eosId());
    assertArrayEquals(ref.once(), tok.encode("Once upon a time", true, false));
    String sample = Llama2cTokenizerTest.sample();
    tok.encode(sample, true, false); // warm-up for the figure below
    long t0 = System.nanoTime();
    int[] ids = tok.encode(sample, true, false);
    double seconds = (System.nanoTime() - t0) / 1e9;
    System.out.printf(
        Locale.ROOT,
        "%s: tinystories-sample.txt, %d tokens in %.3f s (%.0f tokens/s)%n",
        family, ids.length, seconds, ids.length / seconds);
    assertEquals(ref.count(), ids.length);
    assertArrayEquals(ref.first(), Arrays.copyOf(ids, ref.first().length));
    assertArrayEquals(
        ref.last(), Arrays.copyOfRange(ids, ids.length - ref.last().length, ids.length));
    assertTrue(sample.equals(tok.decode(ids)), "decode(encode(sample)) differs");
    assertTrue(sample.equals(streamed(tok, ids)), "streamed decoding of the sample differs");
  }

  @Test
  void readmeUberLine() {
    String line = "Über 1234567 Katzen 🙂 schliefen  \t auf 東京の空.";
    assertArrayEquals(
        new int[] {
          128000, 53591, 655, 220, 4513, 10961, 22, 17816, 5797, 28584, 72517, 4843, 268, 19827,
          7367, 119109, 16144, 35894, 13
        },
        load("llama3").encode(line, true, false));
    assertArrayEquals(
        new int[] {
          52491, 652, 220, 16, 17, 18, 19, 20, 21, 22, 17363, 5679, 27484, 71417, 4738, 268, 19271,
          7219, 60596, 109, 46553, 15767, 34794, 13
        },
        load("qwen3").encode(line, true, false));
    for (String family : new String[] {"llama3", "qwen3"}) {
      int[] ids = load(family).encode(line, true, false);
      assertEquals(line, load(family).decode(ids), family);
      assertEquals(line, streamed(load(family), ids), family);
    }
  }

  // ---- fixtures of the Python library --------------------------------------------------------------

  @ParameterizedTest
  @MethodSource("families")
  void multilingualTextEqualsTheLibrary(String family) {
    HfTokenizer tok = load(family);
    JsonNode fx = fixture(family + "-tokenizer.json");
    String text = fx.get("text").asText();
    int[] with = ints(fx.get("ids_with_special_tokens"));
    int[] without = ints(fx.get("ids_without_special_tokens"));
    JsonNode lines = fx.get("lines");
    for (JsonNode line : lines) {
      // Line by line first, so that a difference names the script that causes it.
      int[] ids = ints(line.get("ids"));
      String where = family + " line \"" + line.get("text").asText() + "\"";
      assertArrayEquals(ids, tok.encode(line.get("text").asText(), false, false), where);
      assertEquals(line.get("decoded").asText(), tok.decode(ids), where);
      assertEquals(line.get("decoded").asText(), streamed(tok, ids), where + " streamed");
    }
    assertArrayEquals(with, tok.encode(text, true, false), family + " add_special_tokens=True");
    assertArrayEquals(without, tok.encode(text, false, false), family + " add_special_tokens=False");
    String decoded = fx.get("decoded").asText();
    assertEquals(decoded, tok.decode(with));
    assertEquals(decoded, streamed(tok, with));
  }

  @ParameterizedTest
  @MethodSource("families")
  void randomIdsDecodeAsTheLibrary(String family) {
    HfTokenizer tok = load(family);
    for (JsonNode c : fixture(family + "-tokenizer.json").get("random_ids")) {
      int[] ids = ints(c.get("ids"));
      String where = family + " " + Arrays.toString(ids);
      assertEquals(c.get("decoded").asText(), tok.decode(ids), where);
      assertEquals(c.get("decoded").asText(), streamed(tok, ids), where + " streamed");
    }
  }

  /**
   * Many more random sequences than the fixture holds, against the library in this JVM: byte
   * tokens (runs that are and are not valid UTF-8), special tokens, any id.
   */
  @ParameterizedTest
  @MethodSource("families")
  void streamEqualsTheLibraryOnRandomIds(String family) {
    HfTokenizer tok = load(family);
    int[] byteTokens =
        IntStream.range(0, 256)
            .map(b -> tok.idOf(String.format("<0x%02X>", b)))
            .filter(id -> id >= 0)
            .toArray();
    int[] added = IntStream.range(0, tok.vocabSize()).filter(id -> isAdded(tok, id)).toArray();
    Random rnd = new Random(19);
    for (int trial = 0; trial < 3000; trial++) {
      int[] ids = new int[rnd.nextInt(14)];
      for (int i = 0; i < ids.length; i++) {
        int r = rnd.nextInt(10);
        ids[i] =
            r < 4 && byteTokens.length > 0
                ? byteTokens[rnd.nextInt(byteTokens.length)]
                : r < 5 ? added[rnd.nextInt(Math.min(added.length, 300))] : rnd.nextInt(tok.vocabSize());
      }
      assertEquals(tok.decode(ids), streamed(tok, ids), family + " " + Arrays.toString(ids));
    }
  }

  @Test
  void unpairedSurrogatesAreReplacementCharacters() {
    // Not text, and no Python string can hold one: encoded as U+FFFD, never a crash.
    for (String family : new String[] {"llama3", "mistral"}) {
      HfTokenizer tok = load(family);
      assertArrayEquals(
          tok.encode("x\uFFFDy\uFFFD\uFFFDz😀", false, false),
          tok.encode("x\uD800y\uDC00\uD83Dz😀", false, false),
          family);
    }
  }

  private static boolean isAdded(HfTokenizer tok, int id) {
    String p = tok.piece(id);
    return p != null && p.startsWith("<") && p.endsWith(">") && p.length() > 2;
  }
}
