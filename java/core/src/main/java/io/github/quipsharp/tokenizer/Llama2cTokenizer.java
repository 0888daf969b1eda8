package io.github.quipsharp.tokenizer;

import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * The tokenizer of a llama2.c {@code tokenizer.bin} export (little endian: int32 {@code
 * max_token_length}, then for each id a float32 score, an int32 byte length and the bytes). Ids 0,
 * 1 and 2 are unknown, BOS and EOS; ids 3 to 258 are the byte tokens {@code <0x00>}..{@code
 * <0xFF>}.
 *
 * <p>Encoding follows llama2.c's {@code encode()} exactly, which differs from sentencepiece in that
 * nothing is normalized (doubled or leading spaces stay as they are): the dummy-prefix token for
 * {@code " "} when the text is not empty, then each UTF-8 character as one token when the
 * vocabulary has it, else its bytes as byte tokens (byte + 3), then merging again and again the
 * adjacent pair whose joined string is a token with the highest score, the leftmost one on ties.
 */
public final class Llama2cTokenizer implements Tokenizer {
  static final int UNK = 0;
  static final int BOS = 1;
  static final int EOS = 2;
  static final int BYTE_OFFSET = 3;

  /** llama2.c starts its best score at -1e10, so tokens scored at or below it never merge. */
  static final float NO_MERGE_SCORE = -1e10f;

  private final Path file;

  /** Token bytes as ISO-8859-1 strings: one char per byte, so joining and lookup are byte-exact. */
  private final String[] pieces;

  private final float[] scores;
  private final Map<String, Integer> idOf;

  /** Per id, the position of its score in descending order (equal scores share one), or -1. */
  private final int[] scoreRank;

  private final int dummyPrefix;
  private final PieceDecoder decoder;

  private Llama2cTokenizer(Path file, String[] pieces, float[] scores) {
    this.file = file;
    this.pieces = pieces;
    this.scores = scores;
    int n = pieces.length;
    idOf = new HashMap<>(n * 2);
    for (int id = 0; id < n; id++) {
      // Duplicates do not occur in real exports; the lowest id wins, deterministically.
      idOf.putIfAbsent(pieces[id], id);
    }
    scoreRank = rankByScore(scores);
    dummyPrefix = idOf.getOrDefault(" ", ' ' + BYTE_OFFSET);
    byte[][] text = new byte[n][];
    int[] rawByte = new int[n];
    for (int id = 0; id < n; id++) {
      rawByte[id] = byteTokenValue(pieces[id]);
      if (id != UNK && id != BOS && id != EOS) {
        text[id] = pieces[id].getBytes(StandardCharsets.ISO_8859_1);
      }
    }
    decoder = new PieceDecoder(text, rawByte, ' ', 1);
  }

  /**
   * Reads a llama2.c tokenizer file; the vocabulary size is the number of entries it holds.
   *
   * @throws ModelFormatException naming the file (and the token index) when it is missing,
   *     truncated or malformed
   */
  public static Llama2cTokenizer read(Path file) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      throw new ModelFormatException(file, "no such tokenizer file", e);
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot read the tokenizer file: " + e, e);
    }
    ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (in.remaining() < 4) {
      throw new ModelFormatException(
          file, "only " + bytes.length + " bytes: too short for the llama2.c tokenizer header");
    }
    int maxTokenLength = in.getInt();
    if (maxTokenLength <= 0) {
      throw new ModelFormatException(
          file,
          "max_token_length = " + maxTokenLength + " is not positive: not a llama2.c tokenizer");
    }
    String[] pieces = new String[Math.max(16, bytes.length / 12)];
    float[] scores = new float[pieces.length];
    int n = 0;
    while (in.hasRemaining()) {
      if (in.remaining() < 8) {
        throw new ModelFormatException(
            file,
            "truncated at token "
                + n
                + " (offset "
                + in.position()
                + "): "
                + in.remaining()
                + " bytes left, the score and length need 8");
      }
      float score = in.getFloat();
      int length = in.getInt();
      if (length < 0) {
        throw new ModelFormatException(
            file,
            "token "
                + n
                + " has a negative length "
                + length
                + " (offset "
                + (in.position() - 4)
                + ")");
      }
      if (length > in.remaining()) {
        throw new ModelFormatException(
            file,
            "token "
                + n
                + " has length "
                + length
                + " but only "
                + in.remaining()
                + " bytes are left in the file (truncated or not a tokenizer file)");
      }
      byte[] piece = new byte[length];
      in.get(piece);
      if (n == pieces.length) {
        pieces = Arrays.copyOf(pieces, n * 2);
        scores = Arrays.copyOf(scores, n * 2);
      }
      pieces[n] = new String(piece, StandardCharsets.ISO_8859_1);
      scores[n] = score;
      n++;
    }
    int minimum = BYTE_OFFSET + 256;
    if (n < minimum) {
      throw new ModelFormatException(
          file,
          "holds "
              + n
              + " tokens; a llama2.c vocabulary has at least "
              + minimum
              + " (unknown, BOS, EOS and the 256 byte tokens)");
    }
    return new Llama2cTokenizer(file, Arrays.copyOf(pieces, n), Arrays.copyOf(scores, n));
  }

  @Override
  public int vocabSize() {
    return pieces.length;
  }

  @Override
  public int bosId() {
    return BOS;
  }

  @Override
  public int eosId() {
    return EOS;
  }

  @Override
  public int[] encode(String text, boolean addBos, boolean addEos) {
    int[] merged = PairMerger.merge(initialSymbols(text), this::findMerge);
    int extra = (addBos ? 1 : 0) + (addEos ? 1 : 0);
    if (extra == 0) {
      return merged;
    }
    int[] out = new int[merged.length + extra];
    int k = 0;
    if (addBos) {
      out[k++] = BOS;
    }
    System.arraycopy(merged, 0, out, k, merged.length);
    if (addEos) {
      out[out.length - 1] = EOS;
    }
    return out;
  }

  /** The dummy prefix, then one token per UTF-8 character (or its byte tokens), before merging. */
  int[] initialSymbols(String text) {
    byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
    if (utf8.length == 0) {
      return new int[0];
    }
    int[] symbols = new int[utf8.length + 1];
    int n = 0;
    symbols[n++] = dummyPrefix;
    int i = 0;
    while (i < utf8.length) {
      // llama2.c's grouping: a lead byte plus the continuation bytes after it, at most 4 bytes.
      int end = i + 1;
      while (end < utf8.length && end - i < 4 && (utf8[end] & 0xC0) == 0x80) {
        end++;
      }
      Integer id = idOf.get(new String(utf8, i, end - i, StandardCharsets.ISO_8859_1));
      if (id != null) {
        symbols[n++] = id;
      } else {
        for (int k = i; k < end; k++) {
          symbols[n++] = (utf8[k] & 0xFF) + BYTE_OFFSET;
        }
      }
      i = end;
    }
    return Arrays.copyOf(symbols, n);
  }

  private long findMerge(int left, int right) {
    Integer id = idOf.get(pieces[left].concat(pieces[right]));
    if (id == null || scoreRank[id] < 0) {
      return PairMerger.PairTable.NONE;
    }
    return ((long) scoreRank[id] << 32) | id;
  }

  /**
   * Dense ranks of the scores, highest first, so the merge loop can order by rank; -0.0 and 0.0
   * (both occur in tok512.bin) share a rank because llama2.c compares them as equal.
   */
  private static int[] rankByScore(float[] scores) {
    int n = scores.length;
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> Float.compare(scores[b], scores[a]));
    int[] rank = new int[n];
    int r = -1;
    float previous = Float.NaN;
    for (int k = 0; k < n; k++) {
      float s = scores[order[k]];
      if (!(s > NO_MERGE_SCORE)) { // also excludes NaN, which llama2.c never selects
        rank[order[k]] = -1;
        continue;
      }
      if (k == 0 || s != previous) {
        r++;
      }
      previous = s;
      rank[order[k]] = r;
    }
    return rank;
  }

  /** The byte of a piece spelled {@code <0xXX>}, as llama2.c's decode() recognizes it, or -1. */
  static int byteTokenValue(String piece) {
    if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') {
      return -1;
    }
    int hi = Character.digit(piece.charAt(3), 16);
    int lo = Character.digit(piece.charAt(4), 16);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
  }

  @Override
  public String decode(int[] ids) {
    return decoder.decode(ids);
  }

  @Override
  public StreamDecoder newStreamDecoder() {
    return decoder.newStream();
  }

  /** The token's bytes decoded as UTF-8; the file stores {@code ▁} as a space. */
  @Override
  public String piece(int id) {
    return new String(pieceBytes(id), StandardCharsets.UTF_8);
  }

  /** The token's bytes exactly as stored. */
  byte[] pieceBytes(int id) {
    if (id < 0 || id >= pieces.length) {
      throw new IllegalArgumentException(
          "token id " + id + " is outside the vocabulary [0, " + pieces.length + ")");
    }
    return pieces[id].getBytes(StandardCharsets.ISO_8859_1);
  }

  /** The token's score from the file. */
  float score(int id) {
    return scores[id];
  }

  @Override
  public String toString() {
    return "Llama2cTokenizer[" + file + ", " + pieces.length + " tokens]";
  }
}
