package io.github.quipsharp.tokenizer;

import io.github.quipsharp.ModelFormatException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Text to token ids and back for Llama-family models. Two formats are read: the llama2.c {@code
 * tokenizer.bin} export ({@link Llama2cTokenizer}) and the Hugging Face {@code tokenizer.json}
 * ({@link HfTokenizer}, encoded and decoded by the Hugging Face tokenizers library itself).
 *
 * <p>{@code decode(encode(text, true, false))} equals {@code text} for any text that does not
 * itself contain the string of a special token (and, for a {@code tokenizer.json} with a Unicode
 * normalizer such as Qwen's NFC, that is already normalized). Implementations are immutable and
 * safe to share between threads; stream decoders are not.
 */
public interface Tokenizer {
  /** Number of token ids: every id in {@code [0, vocabSize())} is valid. */
  int vocabSize();

  /** The beginning-of-sequence id, or -1 when the vocabulary has none. */
  int bosId();

  /** The end-of-sequence id, or -1 when the vocabulary has none. */
  int eosId();

  /**
   * The token ids of {@code text}, with {@link #bosId()} first and {@link #eosId()} last when
   * asked. For a {@code tokenizer.json}, {@code addBos} adds what the file's post-processor adds
   * (Hugging Face's {@code add_special_tokens=True}): BOS for Llama 3, Gemma and Mistral, nothing
   * for Qwen, whose file adds none.
   *
   * @throws IllegalStateException when BOS (llama2.c) or EOS is asked for but the vocabulary has
   *     none
   */
  int[] encode(String text, boolean addBos, boolean addEos);

  /**
   * The text of {@code ids}: special tokens (BOS, EOS, unknown, added special tokens) are skipped,
   * byte tokens {@code <0xXX>} become raw bytes, the bytes of all tokens are decoded together as
   * UTF-8 (invalid sequences become U+FFFD) and a dummy-prefix space at the start is removed. For
   * a {@code tokenizer.json} this is the Hugging Face library's decoding.
   *
   * @throws IllegalArgumentException for an id outside {@code [0, vocabSize())}
   */
  String decode(int[] ids);

  /**
   * A decoder for ids that arrive one at a time, e.g. during generation. Push the whole sequence,
   * prompt included, so that the dummy-prefix space is recognized at its start.
   */
  StreamDecoder newStreamDecoder();

  /** The vocabulary string of {@code id} as the file stores it, for debugging. */
  String piece(int id);

  /**
   * Incremental {@link #decode}: the texts returned by {@link #push} followed by {@link #flush}
   * concatenate to {@code decode} of the same ids.
   */
  interface StreamDecoder {
    /**
     * Adds one token and returns the text it completes; bytes of a UTF-8 character that is still
     * incomplete are kept until the tokens that complete it arrive, so a character is never split
     * (for a {@code tokenizer.json} with byte fallback, a run of byte tokens is held until it
     * ends, as the library decodes it as a whole).
     */
    String push(int id);

    /** Returns what is left; an incomplete UTF-8 sequence becomes U+FFFD. */
    String flush();
  }

  /**
   * Reads a tokenizer file: a name ending in {@code .json} is a Hugging Face {@code
   * tokenizer.json}, anything else a llama2.c tokenizer export.
   *
   * @throws ModelFormatException when the file is missing, unreadable, malformed or unsupported
   */
  static Tokenizer load(Path file) {
    String name = String.valueOf(file.getFileName()).toLowerCase(Locale.ROOT);
    return name.endsWith(".json") ? HfTokenizer.read(file) : Llama2cTokenizer.read(file);
  }

  /**
   * The tokenizer that belongs to a model: in the model's folder (or in the folder of a model file,
   * such as a llama2.c checkpoint {@code .bin}), {@code tokenizer.json}, else {@code
   * tokenizer.bin}, else the only {@code tok*.bin}.
   *
   * @throws ModelFormatException naming the folder when none or several candidates are found, or
   *     when the file found cannot be read
   */
  static Tokenizer forModel(Path modelPath) {
    return load(locate(modelPath));
  }

  /**
   * The tokenizer file {@link #forModel} would load for {@code modelPath}.
   *
   * @throws ModelFormatException when there is none, or several to choose from
   */
  static Path locate(Path modelPath) {
    return TokenizerLocator.locate(modelPath);
  }

  /**
   * The files beside a {@code tokenizer.json} that belong with it, those that exist: {@code
   * tokenizer_config.json} (BOS, EOS, chat template), {@code special_tokens_map.json}, {@code
   * chat_template.jinja} and {@code generation_config.json} (end-of-turn ids). A quantized
   * checkpoint copies them with the tokenizer. None for a llama2.c tokenizer.
   */
  static List<Path> companionFiles(Path tokenizerFile) {
    return TokenizerLocator.companions(tokenizerFile);
  }
}
