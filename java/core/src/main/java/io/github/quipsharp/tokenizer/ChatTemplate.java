package io.github.quipsharp.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import io.github.quipsharp.ModelFormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jinjava.javax.el.CompositeELResolver;

/**
 * A model's chat template: the Jinja template of {@code tokenizer_config.json} ({@code
 * "chat_template"}, or a {@code chat_template.jinja} file beside it) that turns a conversation into
 * the prompt the model was trained on, and the end-of-turn tokens that end the model's answer.
 *
 * <p>Rendering follows transformers' {@code apply_chat_template}: the template sees {@code
 * messages} (maps with {@code role} and {@code content}), {@code add_generation_prompt}, the
 * special tokens of the config ({@code bos_token}, {@code eos_token}, {@code unk_token}, {@code
 * pad_token}) and {@code raise_exception}; blocks are trimmed as with jinja2's {@code
 * trim_blocks} and {@code lstrip_blocks}. The engine is Jinjava, with Python's string methods
 * ({@link PythonStringMethods}), Python's {@code trim}, and two spellings rewritten for its parser
 * ({@link Jinja2Syntax}). The rendered prompt already holds BOS where the family wants one, so it
 * is encoded with {@code addBos} false.
 *
 * <p>Known differences from jinja2 that today's templates do not meet: a boolean printed with
 * {@code {{ }}} reads {@code true} (jinja2: {@code True}), {@code none} prints nothing (jinja2:
 * {@code None}), and {@code lstrip_blocks} also strips spaces before a block tag in the middle of
 * a line (jinja2 only at the start of a line).
 *
 * <p>Immutable; {@link #render} may be called from several threads.
 */
public final class ChatTemplate {
  /** One turn of a conversation; {@code role} is usually "system", "user" or "assistant". */
  public record Message(String role, String content) {
    public Message {
      if (role == null || content == null) {
        throw new IllegalArgumentException("a chat message needs a role and a content");
      }
    }
  }

  private static final String PROBE = "quipsharp-end-of-turn-probe";

  private final Path source;
  private final Path config;
  private final String template;
  private final Map<String, String> specialTokens;

  private ChatTemplate(Path source, Path config, String template, Map<String, String> special) {
    this.source = source;
    this.config = config;
    this.template = Jinja2Syntax.forJinjava(template);
    this.specialTokens = special;
  }

  /**
   * The chat template that belongs to a tokenizer file: the {@code tokenizer_config.json} in its
   * folder (its {@code chat_template}, else {@code chat_template.jinja} beside it).
   *
   * @throws ModelFormatException naming the file when there is no config or no template
   */
  public static ChatTemplate forTokenizer(Path tokenizerFile) {
    Path dir = tokenizerFile.toAbsolutePath().getParent();
    Path config = dir.resolve("tokenizer_config.json");
    if (!Files.isRegularFile(config)) {
      throw new ModelFormatException(
          config,
          "no chat template for "
              + tokenizerFile.getFileName()
              + ": this file, which would hold its \"chat_template\", does not exist");
    }
    return read(config);
  }

  /**
   * Reads the template and special tokens of a {@code tokenizer_config.json}.
   *
   * @throws ModelFormatException naming the file when it is malformed or holds no template
   */
  public static ChatTemplate read(Path tokenizerConfig) {
    JsonNode c = HfJson.readTree(tokenizerConfig);
    Map<String, String> special = new HashMap<>();
    for (String key : new String[] {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      String token = HfTokenizer.configToken(c, key, null, tokenizerConfig);
      if (token != null) {
        special.put(key, token);
      }
    }
    JsonNode node = c.get("chat_template");
    Path jinja = tokenizerConfig.resolveSibling("chat_template.jinja");
    if (HfJson.isNull(node) && Files.isRegularFile(jinja)) {
      try {
        return new ChatTemplate(jinja, tokenizerConfig, Files.readString(jinja), special);
      } catch (IOException e) {
        throw new ModelFormatException(jinja, "cannot read the file: " + e, e);
      }
    }
    if (HfJson.isNull(node)) {
      throw new ModelFormatException(
          tokenizerConfig, "has no \"chat_template\" (and there is no chat_template.jinja)");
    }
    if (node.isTextual()) {
      return new ChatTemplate(tokenizerConfig, tokenizerConfig, node.asText(), special);
    }
    // Several named templates: [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]
    if (node.isArray()) {
      List<String> names = new ArrayList<>();
      for (JsonNode t : node) {
        String name = t.path("name").asText();
        names.add(name);
        if (name.equals("default") && t.path("template").isTextual()) {
          return new ChatTemplate(
              tokenizerConfig, tokenizerConfig, t.get("template").asText(), special);
        }
      }
      throw new ModelFormatException(
          tokenizerConfig, "\"chat_template\" has no template named \"default\" (only " + names
              + ")");
    }
    throw new ModelFormatException(
        tokenizerConfig,
        "\"chat_template\" is " + HfJson.abbreviate(node) + ", not a string or a list");
  }

  /** The file the template was read from. */
  public Path source() {
    return source;
  }

  /**
   * The prompt for {@code messages}; with {@code addGenerationPrompt}, followed by the start of
   * the assistant's turn, as a prompt for generation needs.
   *
   * @throws IllegalArgumentException when the template refuses the conversation ({@code
   *     raise_exception}, e.g. roles that do not alternate)
   * @throws ModelFormatException naming the file when the template cannot be rendered
   */
  public String render(List<Message> messages, boolean addGenerationPrompt) {
    List<Map<String, Object>> list = new ArrayList<>();
    for (Message m : messages) {
      Map<String, Object> map = new HashMap<>();
      map.put("role", m.role());
      map.put("content", m.content());
      list.add(map);
    }
    Map<String, Object> context = new HashMap<>(specialTokens);
    context.put("messages", list);
    context.put("add_generation_prompt", addGenerationPrompt);
    RenderResult result = Engine.JINJAVA.renderForResult(template, context);
    for (TemplateError e : result.getErrors()) {
      for (Throwable t = e.getException(); t != null; t = t.getCause()) {
        if (t instanceof JinjaFunctions.RaisedByTemplate raised) {
          throw new IllegalArgumentException(
              "the chat template of " + source + " refuses the conversation: " + raised.getMessage());
        }
      }
      if (e.getSeverity() == TemplateError.ErrorType.FATAL) {
        throw new ModelFormatException(
            source,
            "cannot render the chat template (line " + e.getLineno() + "): " + e.getMessage());
      }
    }
    return result.getOutput();
  }

  /**
   * The ids that end the model's turn, for generation to stop at: the special token the template
   * writes right after an assistant message (Llama 3 {@code <|eot_id|>}, Qwen {@code <|im_end|>},
   * Gemma {@code <end_of_turn>}), the config's {@code eos_token}, the tokenizer's EOS, and the
   * {@code eos_token_id}s of a {@code generation_config.json} beside the config. Ids outside the
   * tokenizer's vocabulary are left out.
   */
  public int[] stopIds(Tokenizer tok) {
    Set<Integer> ids = new LinkedHashSet<>();
    if (tok instanceof HfTokenizer hf) {
      String probe;
      try {
        probe = render(List.of(new Message("user", "ping"), new Message("assistant", PROBE)), false);
      } catch (IllegalArgumentException | ModelFormatException e) {
        probe = "";
      }
      int at = probe.indexOf(PROBE);
      if (at >= 0) {
        for (int id : tok.encode(probe.substring(at + PROBE.length()), false, false)) {
          if (hf.isSpecial(id)) {
            ids.add(id);
            break;
          }
        }
      }
      String eos = specialTokens.get("eos_token");
      if (eos != null && hf.idOf(eos) >= 0) {
        ids.add(hf.idOf(eos));
      }
    }
    if (tok.eosId() >= 0) {
      ids.add(tok.eosId());
    }
    ids.addAll(generationConfigEos());
    return ids.stream().mapToInt(Integer::intValue).filter(id -> id < tok.vocabSize()).toArray();
  }

  /** {@code eos_token_id} of {@code generation_config.json}: a number or a list of numbers. */
  private List<Integer> generationConfigEos() {
    Path file = config.resolveSibling("generation_config.json");
    List<Integer> out = new ArrayList<>();
    if (!Files.isRegularFile(file)) {
      return out;
    }
    JsonNode eos = HfJson.readTree(file).get("eos_token_id");
    if (eos != null && eos.isArray()) {
      eos.forEach(e -> out.add(e.asInt()));
    } else if (eos != null && eos.isIntegralNumber()) {
      out.add(eos.asInt());
    }
    return out;
  }

  /** One engine for all templates; Jinjava renders from several threads at once. */
  private static final class Engine {
    static final Jinjava JINJAVA = create();

    private static Jinjava create() {
      CompositeELResolver resolver = new CompositeELResolver();
      resolver.add(new PythonStringMethods());
      resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
      JinjavaConfig config =
          JinjavaConfig.newBuilder()
              .withTrimBlocks(true)
              .withLstripBlocks(true)
              .withElResolver(resolver)
              .withLegacyOverrides(
                  LegacyOverrides.newBuilder()
                      .withUseTrimmingForNotesAndExpressions(true) // {{- ... -}} as in jinja2
                      .withUsePyishObjectMapper(true) // lists and dicts print as Python's
                      .build())
              .build();
      Jinjava jinjava = new Jinjava(config);
      JinjaFunctions.register(jinjava.getGlobalContext());
      return jinjava;
    }
  }
}
