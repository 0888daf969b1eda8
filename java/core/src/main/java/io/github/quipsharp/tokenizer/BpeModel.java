package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.common.primitives.ImmutableIntArray;
import io.github.quipsharp.ModelFormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The {@code model} of a {@code tokenizer.json} of type {@code BPE}: the vocabulary, the ranked
 * merges, {@code unk_token}, {@code fuse_unk}, {@code byte_fallback} and {@code ignore_merges}.
 *
 * <p>A word starts as one symbol per Unicode character; a character that is not in the vocabulary
 * becomes the byte tokens {@code <0xXX>} of its UTF-8 bytes (with byte fallback, when all exist),
 * else the unknown token (consecutive ones fused into one with {@code fuse_unk}). Then the adjacent
 * pair with the lowest merge rank is merged, leftmost first, until no listed merge applies.
 */
final class BpeModel {
  private final Map<String, Integer> vocab;

  /** Vocabulary strings by id; null for ids the model does not define. */
  private final String[] tokens;

  /** Rank of each merge, keyed by {@code (leftId << 32) | rightId}. */
  private final Map<Long, Integer> mergeRank;

  /** Merged token id by rank. */
  private final int[] mergeResult;

  private final int unkId;
  private final boolean fuseUnk;
  private final boolean ignoreMerges;

  /** Byte-fallback token ids by byte value, or null without byte fallback. */
  private final int[] byteIds;

  private BpeModel(
      Map<String, Integer> vocab,
      String[] tokens,
      Map<Long, Integer> mergeRank,
      int[] mergeResult,
      int unkId,
      boolean fuseUnk,
      boolean ignoreMerges,
      int[] byteIds) {
    this.vocab = vocab;
    this.tokens = tokens;
    this.mergeRank = mergeRank;
    this.mergeResult = mergeResult;
    this.unkId = unkId;
    this.fuseUnk = fuseUnk;
    this.ignoreMerges = ignoreMerges;
    this.byteIds = byteIds;
  }

  static BpeModel parse(JsonNode node, Path file) {
    String where = "model";
    if (HfJson.isNull(node) || !node.isObject()) {
      throw new ModelFormatException(file, "has no \"model\" object");
    }
    JsonNode typeNode = node.get("type");
    // Old files leave the type out; a model with merges is then BPE.
    String type = typeNode == null && node.has("merges") ? "BPE" : HfJson.type(node, file, where);
    if (!type.equals("BPE")) {
      throw new ModelFormatException(
          file, "unsupported model type \"" + type + "\" (only BPE is supported)");
    }
    JsonNode dropout = node.get("dropout");
    if (!HfJson.isNull(dropout) && dropout.asDouble() != 0.0) {
      throw new ModelFormatException(
          file, "BPE dropout " + dropout + " is not supported (encoding here is deterministic)");
    }
    for (String field : new String[] {"continuing_subword_prefix", "end_of_word_suffix"}) {
      String value = HfJson.optionalText(node, field, file, where);
      if (value != null && !value.isEmpty()) {
        throw new ModelFormatException(
            file, "BPE " + field + " \"" + value + "\" is not supported");
      }
    }

    JsonNode vocabNode = node.get("vocab");
    if (vocabNode == null || !vocabNode.isObject()) {
      throw new ModelFormatException(file, "model needs a \"vocab\" object");
    }
    Map<String, Integer> vocab = new HashMap<>(vocabNode.size() * 2);
    int maxId = -1;
    for (Iterator<Map.Entry<String, JsonNode>> it = vocabNode.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode id = e.getValue();
      if (!id.isIntegralNumber() || !id.canConvertToInt() || id.asInt() < 0) {
        throw new ModelFormatException(
            file, "vocab entry \"" + e.getKey() + "\" has id " + id + ", not a non-negative int");
      }
      vocab.put(e.getKey(), id.asInt());
      maxId = Math.max(maxId, id.asInt());
    }
    String[] tokens = new String[maxId + 1];
    for (Map.Entry<String, Integer> e : vocab.entrySet()) {
      if (tokens[e.getValue()] != null) {
        throw new ModelFormatException(
            file,
            "vocab id "
                + e.getValue()
                + " is given to both \""
                + tokens[e.getValue()]
                + "\" and \""
                + e.getKey()
                + "\"");
      }
      tokens[e.getValue()] = e.getKey();
    }

    JsonNode merges = node.get("merges");
    if (merges == null || !merges.isArray()) {
      throw new ModelFormatException(file, "model needs a \"merges\" array");
    }
    Map<Long, Integer> mergeRank = new HashMap<>(merges.size() * 2);
    int[] mergeResult = new int[merges.size()];
    for (int rank = 0; rank < merges.size(); rank++) {
      String[] pair = mergePair(merges.get(rank), rank, file);
      int left = idOf(vocab, pair[0], rank, file);
      int right = idOf(vocab, pair[1], rank, file);
      mergeResult[rank] = idOf(vocab, pair[0] + pair[1], rank, file);
      // A repeated pair keeps its last rank, as Hugging Face's map building does.
      mergeRank.put(((long) left << 32) | right, rank);
    }

    String unkToken = HfJson.optionalText(node, "unk_token", file, where);
    int unkId = -1;
    if (unkToken != null) {
      Integer id = vocab.get(unkToken);
      if (id == null) {
        throw new ModelFormatException(
            file, "unk_token \"" + unkToken + "\" is not in the vocabulary");
      }
      unkId = id;
    }
    int[] byteIds = null;
    if (HfJson.bool(node, "byte_fallback", false, file, where)) {
      byteIds = new int[256];
      for (int b = 0; b < 256; b++) {
        byteIds[b] = vocab.getOrDefault(String.format("<0x%02X>", b), -1);
      }
    }
    return new BpeModel(
        vocab,
        tokens,
        mergeRank,
        mergeResult,
        unkId,
        HfJson.bool(node, "fuse_unk", false, file, where),
        HfJson.bool(node, "ignore_merges", false, file, where),
        byteIds);
  }

  /** A merge written as {@code "left right"} (older files) or as {@code ["left", "right"]}. */
  private static String[] mergePair(JsonNode merge, int rank, Path file) {
    if (merge.isTextual()) {
      String[] parts = merge.asText().split(" ", -1);
      if (parts.length == 2) {
        return parts;
      }
    } else if (merge.isArray()
        && merge.size() == 2
        && merge.get(0).isTextual()
        && merge.get(1).isTextual()) {
      return new String[] {merge.get(0).asText(), merge.get(1).asText()};
    }
    throw new ModelFormatException(
        file,
        "merge "
            + rank
            + " is "
            + HfJson.abbreviate(merge)
            + ", not \"left right\" or [\"left\", \"right\"]");
  }

  private static int idOf(Map<String, Integer> vocab, String token, int rank, Path file) {
    Integer id = vocab.get(token);
    if (id == null) {
      throw new ModelFormatException(
          file, "merge " + rank + " uses \"" + token + "\", which is not in the vocabulary");
    }
    return id;
  }

  /** One more than the largest vocabulary id. */
  int size() {
    return tokens.length;
  }

  /** The vocabulary string of {@code id}, or null. */
  String token(int id) {
    return id >= 0 && id < tokens.length ? tokens[id] : null;
  }

  /** The unknown token's id, or -1. */
  int unkId() {
    return unkId;
  }

  /** The id of a vocabulary string, or -1. */
  int id(String token) {
    return vocab.getOrDefault(token, -1);
  }

  /** Rank of the merge {@code left right}, or -1; for tests. */
  int rank(int left, int right) {
    return mergeRank.getOrDefault(((long) left << 32) | right, -1);
  }

  /** Appends the token ids of one pre-tokenized word. */
  void encodeWord(String word, ImmutableIntArray.Builder out) {
    if (ignoreMerges) {
      Integer whole = vocab.get(word);
      if (whole != null) {
        out.add(whole);
        return;
      }
    }
    out.addAll(PairMerger.merge(initialSymbols(word), this::findMerge));
  }

  /** One symbol per character, byte tokens or the (fused) unknown token for the others. */
  int[] initialSymbols(String word) {
    int[] symbols = new int[word.length() * 4];
    int n = 0;
    boolean lastWasUnk = false;
    for (int i = 0; i < word.length(); ) {
      int cp = word.codePointAt(i);
      int next = i + Character.charCount(cp);
      String ch = word.substring(i, next);
      i = next;
      Integer id = vocab.get(ch);
      if (id != null) {
        symbols[n++] = id;
        lastWasUnk = false;
        continue;
      }
      if (byteIds != null) {
        byte[] utf8 = ch.getBytes(StandardCharsets.UTF_8);
        boolean all = true;
        for (byte b : utf8) {
          all &= byteIds[b & 0xFF] >= 0;
        }
        if (all) {
          for (byte b : utf8) {
            symbols[n++] = byteIds[b & 0xFF];
          }
          lastWasUnk = false;
          continue;
        }
      }
      // Without an unknown token the character is dropped, as Hugging Face does.
      if (unkId >= 0 && !(fuseUnk && lastWasUnk)) {
        symbols[n++] = unkId;
      }
      lastWasUnk = unkId >= 0;
    }
    return Arrays.copyOf(symbols, n);
  }

  private long findMerge(int left, int right) {
    Integer rank = mergeRank.get(((long) left << 32) | right);
    return rank == null ? PairMerger.PairTable.NONE : ((long) rank << 32) | mergeResult[rank];
  }
}
