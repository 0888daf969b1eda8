package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * What the Java side needs from a {@code tokenizer.json} besides the Hugging Face library itself:
 * the token string of every id (for {@link Tokenizer#piece} and streamed decoding), which added
 * tokens are special, and the component descriptions. The file is read with Jackson's streaming
 * parser and the merges are skipped, so the 33 MB Gemma 3 file costs well under a second here.
 *
 * <p>It also checks what the library would reject or mishandle, so that the error names the file
 * and the component: every {@code type} must be one the library knows (its own message, "data did
 * not match any variant", names neither), and two things are refused by name: BPE dropout, which
 * makes encoding random, and the {@code Precompiled} normalizer, whose malformed forms make the
 * library panic and abort the JVM instead of returning an error (tokenizers 0.21, seen with a
 * missing {@code precompiled_charsmap}). None of today's LLM families uses it.
 */
final class HfTokenizerJson {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** The component types the Hugging Face tokenizers library (0.21) reads, by JSON key. */
  private static final Map<String, Set<String>> KNOWN_TYPES =
      Map.of(
          "model",
          Set.of("BPE", "WordPiece", "WordLevel", "Unigram"),
          "normalizer",
          Set.of(
              "BertNormalizer", "Strip", "StripAccents", "NFC", "NFD", "NFKC", "NFKD", "Sequence",
              "Lowercase", "Nmt", "Replace", "Prepend", "ByteLevel"),
          "pre_tokenizer",
          Set.of(
              "BertPreTokenizer", "ByteLevel", "CharDelimiterSplit", "Metaspace", "Whitespace",
              "Sequence", "Split", "Punctuation", "WhitespaceSplit", "Digits", "UnicodeScripts"),
          "post_processor",
          Set.of("RobertaProcessing", "BertProcessing", "ByteLevel", "TemplateProcessing", "Sequence"),
          "decoder",
          Set.of(
              "BPEDecoder", "ByteLevel", "WordPiece", "Metaspace", "CTC", "Sequence", "Replace",
              "Fuse", "Strip", "ByteFallback"));

  /** The list field of a {@code Sequence} of each component kind. */
  private static final Map<String, String> SEQUENCE_FIELD =
      Map.of(
          "normalizer", "normalizers",
          "pre_tokenizer", "pretokenizers",
          "post_processor", "processors",
          "decoder", "decoders");

  /** One entry of {@code added_tokens}. */
  record AddedToken(int id, String content, boolean special) {}

  /** Token strings by id, model vocabulary and added tokens; null for ids nothing defines. */
  final String[] pieces;

  /** Per id: whether decoding with special tokens skipped drops it. */
  final boolean[] special;

  final JsonNode decoder;

  private HfTokenizerJson(String[] pieces, boolean[] special, JsonNode decoder) {
    this.pieces = pieces;
    this.special = special;
    this.decoder = decoder;
  }

  /**
   * @throws ModelFormatException naming the file for malformed JSON, a missing or malformed model
   *     vocabulary or added token, or a component the library does not know or that is refused
   */
  static HfTokenizerJson parse(byte[] json, Path file) {
    Map<String, JsonNode> components = new HashMap<>();
    List<String> vocab = null;
    JsonNode modelFields = null;
    List<AddedToken> added = new ArrayList<>();
    try (JsonParser p = MAPPER.getFactory().createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw new ModelFormatException(file, "not a JSON object");
      }
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String field = p.currentName();
        p.nextToken();
        switch (field) {
          case "model" -> {
            ModelPart model = readModel(p, file);
            vocab = model.vocab;
            modelFields = model.fields;
          }
          case "added_tokens" -> added = readAdded(p.readValueAsTree(), file);
          case "normalizer", "pre_tokenizer", "post_processor", "decoder" ->
              components.put(field, p.readValueAsTree());
          default -> p.skipChildren();
        }
      }
      if (p.currentToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
        throw new ModelFormatException(file, "malformed JSON: text after the top-level object");
      }
    } catch (JsonProcessingException e) {
      throw HfJson.malformed(file, e);
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot read the file: " + e, e);
    }
    if (modelFields == null) {
      throw new ModelFormatException(file, "has no \"model\" object");
    }
    checkModel(modelFields, vocab, file);
    for (Map.Entry<String, JsonNode> e : components.entrySet()) {
      checkComponent(e.getValue(), e.getKey(), e.getKey(), file);
    }

    int size = vocab.size();
    for (AddedToken t : added) {
      size = Math.max(size, t.id() + 1);
    }
    String[] pieces = vocab.toArray(new String[size]);
    Set<String> specialContents = new HashSet<>();
    for (AddedToken t : added) {
      pieces[t.id()] = t.content();
      if (t.special()) {
        specialContents.add(t.content());
      }
    }
    // The library skips a token when its string is a special added token's, whatever its id.
    boolean[] special = new boolean[size];
    for (int id = 0; id < size; id++) {
      special[id] = pieces[id] != null && specialContents.contains(pieces[id]);
    }
    return new HfTokenizerJson(pieces, special, components.get("decoder"));
  }

  /** The model's scalar fields as a tree and its vocabulary as strings by id. */
  private record ModelPart(JsonNode fields, List<String> vocab) {}

  private static ModelPart readModel(JsonParser p, Path file) throws IOException {
    if (p.currentToken() != JsonToken.START_OBJECT) {
      throw new ModelFormatException(file, "\"model\" is not an object");
    }
    ObjectNode fields = MAPPER.createObjectNode();
    List<String> vocab = null;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken value = p.nextToken();
      if (field.equals("vocab") && value == JsonToken.START_OBJECT) {
        vocab = readVocabMap(p, file);
      } else if (field.equals("vocab") && value == JsonToken.START_ARRAY) {
        vocab = readUnigramVocab(p, file);
      } else if (field.equals("merges")) {
        p.skipChildren(); // the library checks them; Java never needs them
      } else {
        fields.set(field, p.readValueAsTree());
      }
    }
    return new ModelPart(fields, vocab);
  }

  /** BPE, WordPiece and WordLevel: {@code {"token": id, ...}}. */
  private static List<String> readVocabMap(JsonParser p, Path file) throws IOException {
    List<String> byId = new ArrayList<>();
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String token = p.currentName();
      JsonToken value = p.nextToken();
      if (value != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT
          || p.getIntValue() < 0) {
        throw new ModelFormatException(
            file, "vocab entry \"" + token + "\" has id " + p.getText() + ", not a non-negative int");
      }
      int id = p.getIntValue();
      while (byId.size() <= id) {
        byId.add(null);
      }
      if (byId.get(id) != null) {
        throw new ModelFormatException(
            file, "vocab id " + id + " is given to both \"" + byId.get(id) + "\" and \"" + token
                + "\"");
      }
      byId.set(id, token);
    }
    return byId;
  }

  /** Unigram: {@code [["token", score], ...]}, the id being the position. */
  private static List<String> readUnigramVocab(JsonParser p, Path file) throws IOException {
    List<String> byId = new ArrayList<>();
    while (p.nextToken() != JsonToken.END_ARRAY) {
      JsonNode entry = p.readValueAsTree();
      if (!entry.isArray() || entry.size() != 2 || !entry.get(0).isTextual()) {
        throw new ModelFormatException(
            file,
            "vocab entry " + byId.size() + " is " + HfJson.abbreviate(entry)
                + ", not [\"token\", score]");
      }
      byId.add(entry.get(0).asText());
    }
    return byId;
  }

  private static List<AddedToken> readAdded(JsonNode node, Path file) {
    List<AddedToken> all = new ArrayList<>();
    if (HfJson.isNull(node)) {
      return all;
    }
    if (!node.isArray()) {
      throw new ModelFormatException(file, "\"added_tokens\" is not an array");
    }
    for (int i = 0; i < node.size(); i++) {
      JsonNode t = node.get(i);
      String where = "added_tokens[" + i + "]";
      if (!t.isObject()) {
        throw new ModelFormatException(file, where + " is not an object");
      }
      int id = HfJson.integer(t, "id", -1, file, where);
      if (id < 0) {
        throw new ModelFormatException(file, where + " needs a non-negative \"id\"");
      }
      String content = HfJson.text(t, "content", file, where);
      all.add(new AddedToken(id, content, HfJson.bool(t, "special", false, file, where)));
    }
    return all;
  }

  private static void checkModel(JsonNode model, List<String> vocab, Path file) {
    JsonNode typeNode = model.get("type");
    // Files written before "type" existed leave it out; the library then guesses from the fields.
    if (typeNode != null) {
      checkComponent(model, "model", "model", file);
    }
    if (vocab == null) {
      throw new ModelFormatException(file, "model needs a \"vocab\" object or array");
    }
    JsonNode unk = model.get("unk_token");
    if (unk != null && unk.isTextual() && !vocab.contains(unk.asText())) {
      throw new ModelFormatException(
          file, "unk_token \"" + unk.asText() + "\" is not in the vocabulary");
    }
    JsonNode dropout = model.get("dropout");
    if (!HfJson.isNull(dropout) && dropout.asDouble() != 0.0) {
      throw new ModelFormatException(
          file, "BPE dropout " + dropout + " is not supported (it makes encoding random)");
    }
  }

  /** Checks the {@code type} of a component and, for a {@code Sequence}, of each member. */
  private static void checkComponent(JsonNode node, String kind, String where, Path file) {
    if (HfJson.isNull(node)) {
      return;
    }
    String type = HfJson.type(node, file, where);
    Set<String> known = KNOWN_TYPES.get(kind);
    if (type.equals("Precompiled") && kind.equals("normalizer")) {
      throw new ModelFormatException(
          file,
          "unsupported " + where + " type \"Precompiled\" (a malformed one aborts the Hugging Face"
              + " tokenizers library, and no supported model family uses it)");
    }
    if (!known.contains(type)) {
      throw new ModelFormatException(
          file,
          "unsupported " + where + " type \"" + type + "\" (the Hugging Face tokenizers library"
              + " reads " + String.join(", ", new TreeSet<>(known)) + ")");
    }
    String listField = SEQUENCE_FIELD.get(kind);
    if (type.equals("Sequence") && listField != null) {
      JsonNode list = node.get(listField);
      if (list == null || !list.isArray()) {
        throw new ModelFormatException(
            file, where + " Sequence needs a \"" + listField + "\" array");
      }
      for (int i = 0; i < list.size(); i++) {
        checkComponent(list.get(i), kind, where + "[" + i + "]", file);
      }
    }
  }
}
