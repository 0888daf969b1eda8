package io.github.quipsharp.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * GPT-2's byte-to-character table, which byte-level BPE vocabularies (Llama 3, Qwen) are written
 * in: the printable bytes {@code !..~}, {@code ¡..¬} and {@code ®..ÿ} stand for themselves, the
 * other 68 bytes (controls, space, DEL, no-break space, soft hyphen) for U+0100 upwards in byte
 * order, so that {@code Ġ} (U+0120) is the space. The Hugging Face {@code ByteLevel} decoder maps
 * a token's characters back to bytes, and leaves a token with any other character (an added token
 * such as {@code <|eot_id|>} is all printable ASCII; text outside the table is not) as its UTF-8.
 */
final class ByteLevelAlphabet {
  /** Byte by character, for characters below U+0144; -1 for characters outside the table. */
  private static final int[] BYTE_OF_CHAR = new int[0x144];

  static {
    Arrays.fill(BYTE_OF_CHAR, -1);
    int next = 0x100;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      BYTE_OF_CHAR[printable ? b : next++] = b;
    }
  }

  private ByteLevelAlphabet() {}

  /** The bytes a token string stands for, or its UTF-8 when a character is outside the table. */
  static byte[] bytes(String token) {
    byte[] out = new byte[token.length()];
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      int b = c < BYTE_OF_CHAR.length ? BYTE_OF_CHAR[c] : -1;
      if (b < 0) {
        return token.getBytes(StandardCharsets.UTF_8);
      }
      out[i] = (byte) b;
    }
    return out;
  }
}
