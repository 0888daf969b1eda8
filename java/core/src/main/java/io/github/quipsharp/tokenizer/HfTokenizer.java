package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * A Hugging Face {@code tokenizer.json}, encoded and decoded by the Hugging Face {@code
 * tokenizers} library itself ({@link HfNativeTokenizer}), so the ids equal those of the Python
 * package on any text: byte-level BPE with the families' {@code Split} regexes (Llama 3, Qwen
 * 2.5/3), BPE with byte fallback (Gemma, Mistral), added and special tokens, every
 * normalizer, pre-tokenizer and post-processor the library knows.
 *
 * <p>{@link #encode} with {@code addBos} adds the special tokens of the file's post-processor
 * ({@code TemplateProcessing}: BOS for Llama 3, Gemma and Mistral; nothing for Qwen, whose file
 * adds none), i.e. the library's {@code add_special_tokens=True}. {@link #bosId} and {@link
 * #eosId} are the {@code bos_token} / {@code eos_token} of a {@code tokenizer_config.json} next to
 * the file when it names them, else {@code <s>} and {@code </s>} when the vocabulary has them.
 * {@link #decode} is the library's decoding with special tokens skipped; the stream decoder gives
 * the same text piece by piece ({@link HfDecoderSpec}).
 */
public final class HfTokenizer implements Tokenizer {
  private final Path file;
  private final HfNativeTokenizer library;
  private final String[] pieces;
  private final boolean[] special;
  private final int bos;
  private final int eos;
  private final PieceDecoder decoder;

  private HfTokenizer(
      Path file,
      HfNativeTokenizer library,
      String[] pieces,
      boolean[] special,
      PieceDecoder decoder,
      String bosToken,
      String eosToken) {
    this.file = file;
    this.library = library;
    this.pieces = pieces;
    this.special = special;
    this.decoder = decoder;
    this.bos = idOf(bosToken);
    this.eos = idOf(eosToken);
  }

  /**
   * Reads a {@code tokenizer.json} (and the {@code tokenizer_config.json} beside it, if any, for
   * the BOS and EOS tokens).
   *
   * @throws ModelFormatException naming the file for malformed JSON, a component type the library
   *     does not know (or one refused here), or anything else the library cannot read
   */
  public static HfTokenizer read(Path tokenizerJson) {
    Path file = tokenizerJson;
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new ModelFormatException(file, "no such file", e);
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot read the file: " + e, e);
    }
    // The library builds its tokenizer (about 2 s for Gemma 3's 33 MB) while Java reads the
    // vocabulary, except when the file mentions a Precompiled normalizer: Java must refuse that
    // before the library sees it (see HfTokenizerJson).
    FutureTask<HfNativeTokenizer> nativeLoad =
        new FutureTask<>(
            () -> HfNativeTokenizer.create(new String(bytes, StandardCharsets.UTF_8), file));
    boolean parallel = !contains(bytes, "\"Precompiled\"".getBytes(StandardCharsets.UTF_8));
    if (parallel) {
      Thread loader = new Thread(nativeLoad, "quipsharp-tokenizer-load");
      loader.setDaemon(true);
      loader.start();
    }
    HfTokenizerJson json;
    PieceDecoder decoder;
    try {
      json = HfTokenizerJson.parse(bytes, file);
      decoder = HfDecoderSpec.decoder(json.decoder, json.pieces, json.special, file);
    } catch (RuntimeException e) {
      nativeLoad.cancel(false); // a tokenizer built anyway is freed when unreachable
      throw e;
    }
    if (!parallel) {
      nativeLoad.run();
    }
    HfNativeTokenizer library = join(nativeLoad, file);
    String bosToken = "<s>";
    String eosToken = "</s>";
    Path parent = file.toAbsolutePath().getParent();
    Path config = parent == null ? null : parent.resolve("tokenizer_config.json");
    if (config != null && Files.isRegularFile(config)) {
      JsonNode c = HfJson.readTree(config);
      bosToken = configToken(c, "bos_token", bosToken, config);
      eosToken = configToken(c, "eos_token", eosToken, config);
    }
    return new HfTokenizer(file, library, json.pieces, json.special, decoder, bosToken, eosToken);
  }

  private static HfNativeTokenizer join(FutureTask<HfNativeTokenizer> task, Path file) {
    try {
      return task.get();
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException r) {
        throw r;
      }
      if (e.getCause() instanceof Error err) {
        throw err;
      }
      throw new ModelFormatException(file, "cannot load the tokenizer: " + e.getCause(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ModelFormatException(file, "interrupted while loading the tokenizer", e);
    }
  }

  private static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  /**
   * {@code "bos_token": "<s>"} or {@code {"content": "<s>", ...}}; an absent key keeps the
   * default, JSON null means none.
   */
  static String configToken(JsonNode config, String field, String absent, Path file) {
    JsonNode value = config.get(field);
    if (value == null || value.isMissingNode()) {
      return absent;
    }
    if (value.isNull()) {
      return null;
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

  /** The id of a token string (added tokens included), or -1. */
  int idOf(String token) {
    if (token == null) {
      return -1;
    }
    for (int id = 0; id < pieces.length; id++) {
      if (token.equals(pieces[id])) {
        return id;
      }
    }
    return -1;
  }

  /** Whether decoding skips {@code id} (a special added token). */
  boolean isSpecial(int id) {
    return id >= 0 && id < special.length && special[id];
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
    if (addEos && eos < 0) {
      throw new IllegalStateException(file + " defines no EOS token");
    }
    int[] ids = library.encode(replaceLoneSurrogates(text), addBos);
    // A post-processor that already ends with EOS is not followed by a second one.
    if (addEos && !(addBos && ids.length > 0 && ids[ids.length - 1] == eos)) {
      ids = Arrays.copyOf(ids, ids.length + 1);
      ids[ids.length - 1] = eos;
    }
    return ids;
  }

  /**
   * Java strings may hold unpaired surrogates, which are not text and which Python strings passed
   * to the library cannot hold; they become U+FFFD, as the JDK's UTF-8 encoder would write them.
   */
  private static String replaceLoneSurrogates(String text) {
    StringBuilder out = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean paired =
          Character.isHighSurrogate(c)
              ? i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))
              : !Character.isLowSurrogate(c);
      if (Character.isHighSurrogate(c) && paired) {
        if (out != null) {
          out.append(c).append(text.charAt(i + 1));
        }
        i++;
        continue;
      }
      if (!paired && out == null) {
        out = new StringBuilder(text.length()).append(text, 0, i);
      }
      if (out != null) {
        out.append(paired ? c : Utf8.REPLACEMENT);
      }
    }
    return out == null ? text : out.toString();
  }

  @Override
  public String decode(int[] ids) {
    for (int id : ids) {
      checkId(id);
    }
    return library.decode(ids);
  }

  @Override
  public StreamDecoder newStreamDecoder() {
    return decoder.newStream();
  }

  @Override
  public String piece(int id) {
    checkId(id);
    return pieces[id];
  }

  private void checkId(int id) {
    if (id < 0 || id >= pieces.length) {
      throw new IllegalArgumentException(
          "token id " + id + " is outside the vocabulary [0, " + pieces.length + ")");
    }
  }

  @Override
  public String toString() {
    return "HfTokenizer[" + file + ", " + pieces.length + " tokens]";
  }
}
