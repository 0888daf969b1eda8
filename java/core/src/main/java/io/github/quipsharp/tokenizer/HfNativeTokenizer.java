package io.github.quipsharp.tokenizer;

import ai.djl.huggingface.tokenizers.jni.LibUtils;
import ai.djl.huggingface.tokenizers.jni.TokenizersLibrary;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.QuipsharpException;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.nio.file.Path;

/**
 * A {@code tokenizer.json} held by the Hugging Face {@code tokenizers} library (Rust), which DJL's
 * {@code ai.djl.huggingface:tokenizers} jar carries as {@code libtokenizers.so} with a JNI binding.
 * Encoding and decoding are the library's own, so the ids are those of the Python {@code
 * tokenizers} package on any text.
 *
 * <p>The JNI class is called directly rather than through DJL's {@code HuggingFaceTokenizer}:
 * that class's factory methods send a telemetry request to the EC2 metadata address (1 s time-outs
 * off EC2) unless a system property opts out, and it truncates and pads to 512 tokens by default.
 * Before the library is first loaded, {@code RUST_FLAVOR} is set to {@code cpu} (unless the user set
 * it): on a machine with CUDA, DJL would otherwise look for a CUDA build that is not in the jar and
 * try to download it. The library is extracted once into DJL's cache folder ({@code
 * ~/.djl.ai/tokenizers}, or {@code DJL_CACHE_DIR}); nothing is downloaded.
 *
 * <p>The Rust tokenizer is freed when this object becomes unreachable. Instances are safe to use
 * from several threads (the Rust side only reads it).
 */
final class HfNativeTokenizer {
  private static final Cleaner CLEANER = Cleaner.create();

  private final long handle;

  private HfNativeTokenizer(long handle) {
    this.handle = handle;
    CLEANER.register(this, () -> Library.LIB.deleteTokenizer(handle));
  }

  /** Loads the library once, on first use; a failure is reported again on each use. */
  private static final class Library {
    static final TokenizersLibrary LIB;
    static final Throwable FAILURE;

    static {
      if (System.getenv("RUST_FLAVOR") == null && System.getProperty("RUST_FLAVOR") == null) {
        System.setProperty("RUST_FLAVOR", "cpu");
      }
      TokenizersLibrary lib = null;
      Throwable failure = null;
      try {
        LibUtils.checkStatus();
        lib = TokenizersLibrary.LIB;
      } catch (RuntimeException | LinkageError e) {
        failure = e;
      }
      LIB = lib;
      FAILURE = failure;
    }

    static TokenizersLibrary get() {
      if (FAILURE != null) {
        throw new QuipsharpException(
            "cannot load the Hugging Face tokenizers library (libtokenizers.so from DJL's"
                + " ai.djl.huggingface:tokenizers jar): "
                + FAILURE,
            FAILURE);
      }
      return LIB;
    }
  }

  /**
   * Builds the tokenizer from the text of a {@code tokenizer.json}, without truncation or padding.
   *
   * @throws ModelFormatException with the library's reason when it cannot read the file
   */
  static HfNativeTokenizer create(String json, Path file) {
    TokenizersLibrary lib = Library.get();
    long handle;
    try {
      handle = lib.createTokenizerFromString(json);
    } catch (RuntimeException e) {
      throw new ModelFormatException(
          file, "the Hugging Face tokenizers library cannot read it: " + e.getMessage(), e);
    }
    HfNativeTokenizer tok = new HfNativeTokenizer(handle);
    lib.disableTruncation(handle);
    lib.disablePadding(handle);
    return tok;
  }

  /** The ids of {@code text}; with {@code addSpecialTokens}, those the post-processor adds too. */
  int[] encode(String text, boolean addSpecialTokens) {
    try {
      long encoding = Library.LIB.encode(handle, text, addSpecialTokens);
      long[] ids;
      try {
        ids = Library.LIB.getTokenIds(encoding);
      } finally {
        Library.LIB.deleteEncoding(encoding);
      }
      int[] out = new int[ids.length];
      for (int i = 0; i < ids.length; i++) {
        out[i] = (int) ids[i];
      }
      return out;
    } finally {
      Reference.reachabilityFence(this);
    }
  }

  /** The text of {@code ids}, special tokens skipped; the ids must be in the vocabulary. */
  String decode(int[] ids) {
    long[] wide = new long[ids.length];
    for (int i = 0; i < ids.length; i++) {
      wide[i] = ids[i];
    }
    try {
      return Library.LIB.decode(handle, wide, true);
    } finally {
      Reference.reachabilityFence(this);
    }
  }
}
