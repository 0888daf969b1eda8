package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The tokenizer.json reader against the README's Mistral figures and a literal BPE rule. */
class HfTokenizerTest {
  static final String MISTRAL = "mistral-tokenizer/tokenizer.json";
  private static final ObjectMapper JSON = new ObjectMapper();

  static HfTokenizer mistral() {
    return HfTokenizer.read(SharedModels.require(MISTRAL));
  }

  @Test
  void mistralReferenceFigures() throws IOException {
    HfTokenizer tok = mistral();
    assertEquals(32_000, tok.vocabSize());
    assertEquals(1, tok.bosId());
    assertEquals(2, tok.eosId());
    assertEquals("▁Once", tok.piece(5713));
    assertArrayEquals(
        new int[] {1, 5713, 3714, 264, 727}, tok.encode("Once upon a time", true, false));
    int[] ids = Llama2cTokenizerTest.timedEncode(tok, Llama2cTokenizerTest.sample(), "mistral");
    assertEquals(37_132, ids.length);
    assertArrayEquals(
        new int[] {1, 2387, 1370, 28725, 264, 1628, 2746, 5160, 25492, 1419, 264, 25710},
        Arrays.copyOf(ids, 12));
    assertArrayEquals(
        new int[] {575, 302, 378, 28723, 13}, Arrays.copyOfRange(ids, ids.length - 5, ids.length));
  }

  @Test
  void emptyTextAndEos() {
    HfTokenizer tok = mistral();
    assertArrayEquals(new int[0], tok.encode("", false, false));
    assertArrayEquals(new int[] {1, 2}, tok.encode("", true, true));
    assertArrayEquals(new int[] {5713, 2}, tok.encode("Once", false, true));
  }

  /**
   * The literal rule for this file, from its JSON alone: prepend ▁, spaces to ▁, one symbol per
   * character (else its byte tokens), then merge the lowest-ranked listed pair, leftmost first.
   */
  static final class NaiveEncoder {
    private final Map<String, Integer> vocab = new HashMap<>();
    private final Map<String, Integer> rank = new HashMap<>();

    NaiveEncoder(Path file) throws IOException {
      JsonNode model = JSON.readTree(file.toFile()).get("model");
      for (Iterator<Map.Entry<String, JsonNode>> it = model.get("vocab").fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        vocab.put(e.getKey(), e.getValue().asInt());
      }
      JsonNode merges = model.get("merges");
      for (int r = 0; r < merges.size(); r++) {
        rank.putIfAbsent(merges.get(r).asText(), r);
      }
    }

    int[] encode(String text) {
      if (text.isEmpty()) {
        return new int[0];
      }
      String s = "▁" + text.replace(" ", "▁");
      List<String> sym = new ArrayList<>();
      s.codePoints()
          .forEach(
              cp -> {
                String ch = new String(Character.toChars(cp));
                if (vocab.containsKey(ch)) {
                  sym.add(ch);
                } else {
                  for (byte b : ch.getBytes(StandardCharsets.UTF_8)) {
                    sym.add(String.format("<0x%02X>", b & 0xFF));
                  }
                }
              });
      while (true) {
        int best = Integer.MAX_VALUE;
        int at = -1;
        for (int i = 0; i + 1 < sym.size(); i++) {
          Integer r = rank.get(sym.get(i) + " " + sym.get(i + 1));
          if (r != null && r < best) {
            best = r;
            at = i;
          }
        }
        if (at < 0) {
          break;
        }
        sym.set(at, sym.get(at) + sym.remove(at + 1));
      }
      return sym.stream().mapToInt(vocab::get).toArray();
    }
  }

  @Test
  void heapMergeEqualsLiteralRuleOnRandomStrings() throws IOException {
    HfTokenizer tok = mistral();
    NaiveEncoder naive = new NaiveEncoder(SharedModels.require(MISTRAL));
    List<String> pieces = new ArrayList<>();
    for (int id = 3 + 256; id < tok.vocabSize(); id++) {
      pieces.add(tok.piece(id).replace('▁', ' '));
    }
    int checked = 0;
    for (String s : RandomText.strings(new Random(5), pieces, 5000)) {
      if (s.contains("<s>") || s.contains("</s>") || s.contains("<unk>")) {
        continue; // added tokens are matched before BPE, which the literal rule does not model
      }
      assertArrayEquals(naive.encode(s), tok.encode(s, false, false), "\"" + s + "\"");
      checked++;
    }
    assertTrue(checked > 4900);
    String prefix = Llama2cTokenizerTest.sample().substring(0, 2500);
    assertArrayEquals(naive.encode(prefix), tok.encode(prefix, false, false));
  }

  @Test
  void specialTokensInTheTextAreMatchedBeforeBpe() {
    HfTokenizer tok = mistral();
    // Each stretch between added tokens is normalized on its own, so "b" gets its own ▁ too.
    int[] expected =
        IntStream.concat(
                IntStream.concat(IntStream.of(tok.encode("a", false, false)), IntStream.of(1, 2)),
                IntStream.of(tok.encode("b", false, false)))
            .toArray();
    assertArrayEquals(expected, tok.encode("a<s></s>b", false, false));
    assertArrayEquals(new int[] {1, 5713}, tok.encode("<s>Once", false, false));
    assertEquals("ab", tok.decode(tok.encode("a<s></s>b", false, false)).replace(" ", ""));
  }

  // ---- variants of the file, written to a temporary folder --------------------------------------

  static ObjectNode mistralJson() throws IOException {
    return (ObjectNode) JSON.readTree(SharedModels.require(MISTRAL).toFile());
  }

  static Path write(Path dir, JsonNode json) throws IOException {
    Path file = dir.resolve("tokenizer.json");
    JSON.writeValue(file.toFile(), json);
    return file;
  }

  static Path variant(Path dir, Consumer<ObjectNode> edit) throws IOException {
    ObjectNode json = mistralJson();
    edit.accept(json);
    return write(dir, json);
  }

  @Test
  void mergesAsArraysEncodeTheSame(@TempDir Path dir) throws IOException {
    Path file =
        variant(
            dir,
            json -> {
              ObjectNode model = (ObjectNode) json.get("model");
              ArrayNode arrays = JSON.createArrayNode();
              for (JsonNode m : model.get("merges")) {
                String[] parts = m.asText().split(" ");
                arrays.addArray().add(parts[0]).add(parts[1]);
              }
              model.set("merges", arrays);
            });
    String text = Llama2cTokenizerTest.sample();
    assertArrayEquals(
        mistral().encode(text, true, false), HfTokenizer.read(file).encode(text, true, false));
  }

  @Test
  void metaspacePreTokenizerInsteadOfNormalizer(@TempDir Path dir) throws IOException {
    // The newer conversion style: no normalizer, Metaspace (prepend_scheme first) and its decoder.
    Path file =
        variant(
            dir,
            json -> {
              json.putNull("normalizer");
              ObjectNode meta =
                  JSON.createObjectNode()
                      .put("type", "Metaspace")
                      .put("replacement", "▁")
                      .put("prepend_scheme", "first")
                      .put("split", false);
              json.set("pre_tokenizer", meta);
              ObjectNode decoder = json.putObject("decoder").put("type", "Sequence");
              decoder
                  .putArray("decoders")
                  .add(JSON.createObjectNode().put("type", "ByteFallback"))
                  .add(meta.deepCopy());
            });
    HfTokenizer tok = HfTokenizer.read(file);
    String text = Llama2cTokenizerTest.sample(); // starts with a letter, so both prepend one ▁
    int[] ids = tok.encode(text, true, false);
    assertArrayEquals(mistral().encode(text, true, false), ids);
    assertTrue(text.equals(tok.decode(ids)), "round trip");
    // "first": only the stretch at the start of the text gets the ▁.
    assertArrayEquals(
        IntStream.concat(IntStream.of(5713, 1), IntStream.of(tok.idOf("Once"))).toArray(),
        tok.encode("Once<s>Once", false, false));
  }

  @Test
  void metaspaceSplittingIntoWords(@TempDir Path dir) throws IOException {
    Path file =
        variant(
            dir,
            json -> {
              json.putNull("normalizer");
              json.set(
                  "pre_tokenizer",
                  JSON.createObjectNode()
                      .put("type", "Metaspace")
                      .put("replacement", "▁")
                      .put("add_prefix_space", true));
            });
    HfTokenizer tok = HfTokenizer.read(file);
    assertArrayEquals(
        new int[] {1, 5713, 3714, 264, 727}, tok.encode("Once upon a time", true, false));
    // Split words never merge across a ▁: "▁▁" stays two tokens.
    int[] ids = tok.encode("a  b", false, false);
    for (int id : ids) {
      assertTrue(tok.piece(id).lastIndexOf('▁') <= 0, "token " + tok.piece(id) + " spans words");
    }
    String text = Llama2cTokenizerTest.sample();
    assertTrue(text.equals(tok.decode(tok.encode(text, true, false))), "round trip");
  }

  @Test
  void addedTokenStripAndSingleWord(@TempDir Path dir) throws IOException {
    Path file =
        variant(
            dir,
            json -> {
              ArrayNode added = (ArrayNode) json.get("added_tokens");
              added
                  .addObject()
                  .put("id", 32000)
                  .put("content", "<mask>")
                  .put("lstrip", true)
                  .put("rstrip", false)
                  .put("single_word", false)
                  .put("normalized", false)
                  .put("special", true);
              added
                  .addObject()
                  .put("id", 32001)
                  .put("content", "ab")
                  .put("lstrip", false)
                  .put("rstrip", true)
                  .put("single_word", true)
                  .put("normalized", false)
                  .put("special", false);
            });
    HfTokenizer tok = HfTokenizer.read(file);
    HfTokenizer plain = mistral();
    assertEquals(32_002, tok.vocabSize());
    // lstrip: the token swallows the space before it.
    assertArrayEquals(
        concat(
            plain.encode("x", false, false), new int[] {32000}, plain.encode(" y", false, false)),
        tok.encode("x <mask> y", false, false));
    // single_word: "ab" inside "cab" is no match; rstrip swallows the spaces after a match. The
    // library gives an added token whose content the model's vocabulary already holds the
    // vocabulary's id (375 = "ab"), not the one of added_tokens: figures of tokenizers 0.23.2.
    assertArrayEquals(new int[] {375, 5677, 28705, 375}, tok.encode("ab  cab ab", false, false));
    // The special token is skipped; " y" got a ▁ of its own in front of its space.
    assertEquals("x  y", tok.decode(tok.encode("x <mask> y", false, false)));
  }

  static int[] concat(int[]... parts) {
    return Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
  }

  @Test
  void bosAndEosFromTokenizerConfig(@TempDir Path dir) throws IOException {
    Path file = write(dir, mistralJson());
    Files.writeString(
        dir.resolve("tokenizer_config.json"),
        "{\"bos_token\": {\"content\": \"</s>\"}, \"eos_token\": \"<unk>\"}");
    HfTokenizer tok = HfTokenizer.read(file);
    assertEquals(2, tok.bosId());
    assertEquals(0, tok.eosId());
  }

  /** A hand-written file without byte fallback: unknown characters, fuse_unk, ignore_merges. */
  static Path tiny(Path dir, boolean fuseUnk, boolean ignoreMerges) throws IOException {
    String json =
        """
        {"added_tokens": [{"id": 0, "content": "<unk>", "special": true, "normalized": false,
                           "single_word": false, "lstrip": false, "rstrip": false}],
         "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
         "pre_tokenizer": null,
         "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
         "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": %s, "ignore_merges": %s,
           "vocab": {"<unk>": 0, "<s>": 1, "</s>": 2, "▁": 3, "a": 4, "b": 5, "▁a": 6,
                     "ab": 7, "▁ab": 8, "▁ba": 9},
           "merges": ["▁ a", "a b", "▁a b"]}}
        """
            .formatted(fuseUnk, ignoreMerges);
    Path file = dir.resolve("tiny.json");
    Files.writeString(file, json);
    return file;
  }

  @Test
  void unknownCharactersWithoutByteFallback(@TempDir Path dir) throws IOException {
    HfTokenizer fused = HfTokenizer.read(tiny(dir, true, false));
    assertEquals(10, fused.vocabSize());
    assertEquals(1, fused.bosId());
    // ▁ a b ▁ b a: "▁ a" (rank 0) first, then "▁a b" (rank 2); "a b" never sees its pair.
    assertArrayEquals(new int[] {8, 3, 5, 4}, fused.encode("ab ba", false, false));
    assertArrayEquals(new int[] {3, 0, 4}, fused.encode("xyza", false, false));
    assertEquals("a", fused.decode(fused.encode("xyza", false, false)));
    HfTokenizer separate = HfTokenizer.read(tiny(dir, false, false));
    assertArrayEquals(new int[] {3, 0, 0, 0, 4}, separate.encode("xyza", false, false));
  }

  @Test
  void ignoreMergesTakesWholeWordsFromTheVocabulary(@TempDir Path dir) throws IOException {
    assertArrayEquals(
        new int[] {3, 5, 4}, HfTokenizer.read(tiny(dir, true, false)).encode("ba", false, false));
    assertArrayEquals(
        new int[] {9}, HfTokenizer.read(tiny(dir, true, true)).encode("ba", false, false));
  }

  // ---- bad files --------------------------------------------------------------------------------

  static void assertBad(Path file, String... fragments) {
    ModelFormatException e = assertThrows(ModelFormatException.class, () -> Tokenizer.load(file));
    assertEquals(file, e.file());
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "expected \"" + f + "\" in: " + e.getMessage());
    }
  }

  @Test
  void corruptJson(@TempDir Path dir) throws IOException {
    byte[] good = Files.readAllBytes(SharedModels.require(MISTRAL));
    Path cut = dir.resolve("tokenizer.json");
    Files.write(cut, Arrays.copyOf(good, good.length / 2));
    assertBad(cut, "malformed JSON");
    Files.writeString(cut, "[1, 2]");
    assertBad(cut, "not a JSON object");
    assertBad(dir.resolve("absent.json"), "no such file");
  }

  @Test
  void unsupportedKinds(@TempDir Path dir) throws IOException {
    // Types the library does not know: named here, since the library's message names none.
    assertBad(
        variant(dir, json -> ((ObjectNode) json.get("model")).put("type", "Foo")),
        "unsupported model type \"Foo\"");
    assertBad(
        variant(dir, json -> json.set("normalizer", JSON.createObjectNode().put("type", "Foo"))),
        "unsupported normalizer type \"Foo\"");
    assertBad(
        variant(
            dir,
            json -> {
              ObjectNode seq = json.putObject("pre_tokenizer").put("type", "Sequence");
              seq.putArray("pretokenizers")
                  .add(JSON.createObjectNode().put("type", "Digits").put("individual_digits", true))
                  .add(JSON.createObjectNode().put("type", "Foo"));
            }),
        "unsupported pre_tokenizer[1] type \"Foo\"");
    assertBad(
        variant(
            dir, json -> json.set("post_processor", JSON.createObjectNode().put("type", "Foo"))),
        "unsupported post_processor type \"Foo\"");
    // Refused here although the library knows them: a malformed Precompiled normalizer makes the
    // library abort the JVM; CTC cannot be streamed; dropout makes encoding random.
    assertBad(
        variant(
            dir,
            json -> json.set("normalizer", JSON.createObjectNode().put("type", "Precompiled"))),
        "unsupported normalizer type \"Precompiled\"");
    assertBad(
        variant(
            dir,
            json ->
                ((ArrayNode) json.get("decoder").get("decoders"))
                    .addObject()
                    .put("type", "CTC")
                    .put("pad_token", "<pad>")
                    .put("word_delimiter_token", "|")
                    .put("cleanup", true)),
        "unsupported decoder[4] type \"CTC\"");
    assertBad(
        variant(dir, json -> ((ObjectNode) json.get("model")).put("dropout", 0.1)), "dropout");
    // A known type with the wrong fields: the library's own reason.
    assertBad(
        variant(dir, json -> ((ObjectNode) json.get("model")).put("type", "Unigram")),
        "the Hugging Face tokenizers library cannot read it",
        "expected a sequence");
  }

  @Test
  void byteLevelPreTokenizerIsRead(@TempDir Path dir) throws IOException {
    // Refused by the hand-written reader this replaced; the library reads it. Figures of
    // tokenizers 0.23.2 for this variant of the Mistral file.
    Path file =
        variant(
            dir,
            json ->
                json.set(
                    "pre_tokenizer",
                    JSON.createObjectNode()
                        .put("type", "ByteLevel")
                        .put("add_prefix_space", false)
                        .put("trim_offsets", true)
                        .put("use_regex", true)));
    // The normalizer's ▁ becomes byte-level characters (â, <0xC4>, <0xB8>, ģ) before BPE.
    assertArrayEquals(
        new int[] {1, 28891, 199, 187, 31662, 16114, 28891, 199, 187, 31662, 715, 266},
        HfTokenizer.read(file).encode("Once upon", true, false));
  }

  @Test
  void inconsistentModel(@TempDir Path dir) throws IOException {
    assertBad(
        variant(
            dir, json -> ((ArrayNode) json.get("model").get("merges")).insert(0, "▁ nonexistent")),
        "cannot read it",
        "`nonexistent` out of vocabulary");
    assertBad(
        variant(dir, json -> ((ArrayNode) json.get("model").get("merges")).insert(3, "a b c")),
        "cannot read it",
        "line 4");
    assertBad(
        variant(dir, json -> ((ObjectNode) json.get("model")).put("unk_token", "<nothing>")),
        "unk_token");
    assertBad(variant(dir, json -> json.remove("model")), "\"model\"");
  }
}
