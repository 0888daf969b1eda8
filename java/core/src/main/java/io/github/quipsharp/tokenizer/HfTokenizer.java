package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.common.primitives.ImmutableIntArray;
import io.github.quipsharp.ModelFormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A Hugging Face {@code tokenizer.json} with a BPE model, as Llama and Mistral checkpoints ship it.
 *
 * <p>Encoding runs Hugging Face's pipeline: added tokens such as {@code <s>} are found in the text
 * first; each stretch between them is normalized (e.g. Prepend {@code ▁}, Replace {@code " "} by
 * {@code ▁}), pre-tokenized (e.g. Metaspace) and BPE-encoded ({@link BpeModel}). The {@code
 * post_processor} is not used: {@link #encode} adds BOS and EOS when asked. BOS and EOS are the
 * {@code bos_token} / {@code eos_token} of a {@code tokenizer_config.json} next to the file when it
 * names them, else {@code <s>} and {@code </s>}.
 */
public final class HfTokenizer implements Tokenizer {
  private final Path file;
  private final UnaryOperator<String> normalizer;
  private final HfPreTokenizer preTokenizer;
  private final BpeModel model;
  private final AddedTokens added;

  /** Token strings by id, added tokens included; null for ids nothing defines. */
  private final String[] pieces;

  private final int bos;
  private final int eos;
  private final PieceDecoder decoder;

  private HfTokenizer(
      Path file,
      UnaryOperator<String> normalizer,
      HfPreTokenizer preTokenizer,
      BpeModel model,
      AddedTokens added,
      HfDecoderSpec decoderSpec,
      String bosToken,
      String eosToken) {
    this.file = file;
    this.normalizer = normalizer;
    this.preTokenizer = preTokenizer;
    this.model = model;
    this.added = added;
    int size = model.size();
    for (AddedTokens.Token t : added.all()) {
      size = Math.max(size, t.id() + 1);
    }
    pieces = new String[size];
    for (int id = 0; id < model.size(); id++) {
      pieces[id] = model.token(id);
    }
    boolean[] special = new boolean[size];
    for (AddedTokens.Token t : added.all()) {
      pieces[t.id()] = t.content();
      special[t.id()] |= t.special();
    }
    bos = idOf(bosToken);
    eos = idOf(eosToken);
    int unk = model.unkId();
    for (int id : new int[] {bos, eos, unk}) {
      if (id >= 0) {
        special[id] = true;
      }
    }
    byte[][] text = new byte[size][];
    int[] rawByte = new int[size];
    for (int id = 0; id < size; id++) {
      rawByte[id] = -1;
      if (pieces[id] == null || special[id]) {
        continue;
      }
      if (decoderSpec.byteFallback) {
        rawByte[id] = Llama2cTokenizer.byteTokenValue(pieces[id]);
      }
      text[id] = decoderSpec.perToken.apply(pieces[id]).getBytes(StandardCharsets.UTF_8);
    }
    decoder = new PieceDecoder(text, rawByte, decoderSpec.stripChar, decoderSpec.stripCount);
  }

  /**
   * Reads a {@code tokenizer.json} (and the {@code tokenizer_config.json} beside it, if any, for
   * the BOS and EOS tokens).
   *
   * @throws ModelFormatException naming the file for malformed JSON or an unsupported model,
   *     normalizer, pre-tokenizer or decoder kind
   */
  public static HfTokenizer read(Path tokenizerJson) {
    Path file = tokenizerJson;
    JsonNode root = HfJson.readTree(file);
    BpeModel model = BpeModel.parse(root.get("model"), file);
    UnaryOperator<String> normalizer = HfNormalizer.parse(root.get("normalizer"), file);
    HfPreTokenizer preTokenizer = HfPreTokenizer.parse(root.get("pre_tokenizer"), file);
    HfDecoderSpec decoderSpec = HfDecoderSpec.parse(root.get("decoder"), file);
    AddedTokens added = AddedTokens.parse(root.get("added_tokens"), normalizer, file);
    String bosToken = "<s>";
    String eosToken = "</s>";
    Path parent = file.toAbsolutePath().getParent();
    Path config = parent == null ? null : parent.resolve("tokenizer_config.json");
    if (config != null && Files.isRegularFile(config)) {
      JsonNode c = HfJson.readTree(config);
      bosToken = configToken(c, "bos_token", bosToken, config);
      eosToken = configToken(c, "eos_token", eosToken, config);
    }
    return new HfTokenizer(
        file, normalizer, preTokenizer, model, added, decoderSpec, bosToken, eosToken);
  }

  /** {@code "bos_token": "<s>"} or {@code {"content": "<s>", ...}}; null keeps the default. */
  private static String configToken(JsonNode config, String field, String absent, Path file) {
    JsonNode value = config.get(field);
    if (HfJson.isNull(value)) {
      return absent;
    }
    if (value.isTextual()) {
      return value.asText();
    }
    if (value.isObject()) {
      return HfJson.text(value, "content", file, field);
    }
    throw new ModelFormatException(
        file, "\"" + field + "\" is " + HfJson.abbreviate(value) + ", not a string or object");
  }

  private int idOf(String token) {
    for (AddedTokens.Token t : added.all()) {
      if (t.content().equals(token)) {
        return t.id();
      }
    }
    return model.id(token);
  }

  @Override
  public int vocabSize() {
    return pieces.length;
  }

  @Override
  public int bosId() {
    return bos;
  }

  @Override
  public int eosId() {
    return eos;
  }

  @Override
  public int[] encode(String text, boolean addBos, boolean addEos) {
    ImmutableIntArray.Builder out = ImmutableIntArray.builder(text.length() / 3 + 4);
    if (addBos) {
      out.add(require(bos, "BOS"));
    }
    List<String> words = new ArrayList<>();
    for (AddedTokens.Segment raw : added.splitRaw(text)) {
      if (raw.isAdded()) {
        out.add(raw.addedId());
        continue;
      }
      String normalized = normalizer.apply(raw.text());
      for (AddedTokens.Segment seg : added.splitNormalized(normalized, raw.atTextStart())) {
        if (seg.isAdded()) {
          out.add(seg.addedId());
          continue;
        }
        words.clear();
        preTokenizer.split(seg.text(), seg.atTextStart(), words);
        for (String word : words) {
          if (!word.isEmpty()) {
            model.encodeWord(word, out);
          }
        }
      }
    }
    if (addEos) {
      out.add(require(eos, "EOS"));
    }
    return out.build().toArray();
  }

  private int require(int id, String what) {
    if (id < 0) {
      throw new IllegalStateException(file + " defines no " + what + " token");
    }
    return id;
  }

  @Override
  public String decode(int[] ids) {
    return decoder.decode(ids);
  }

  @Override
  public StreamDecoder newStreamDecoder() {
    return decoder.newStream();
  }

  @Override
  public String piece(int id) {
    if (id < 0 || id >= pieces.length) {
      throw new IllegalArgumentException(
          "token id " + id + " is outside the vocabulary [0, " + pieces.length + ")");
    }
    return pieces[id];
  }

  /** The BPE model, for tests. */
  BpeModel model() {
    return model;
  }

  @Override
  public String toString() {
    return "HfTokenizer[" + file + ", " + pieces.length + " tokens]";
  }
}
