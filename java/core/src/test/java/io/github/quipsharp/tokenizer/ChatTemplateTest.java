package io.github.quipsharp.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.testing.SharedModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Chat templates of the real tokenizer_config.json files against transformers'
 * apply_chat_template (fixtures of tools/fixtures/make_tokenizer_fixtures.py), and the end-of-turn
 * tokens generation stops at.
 */
class ChatTemplateTest {
  static Stream<String> families() {
    return Stream.of("llama3", "qwen3", "gemma3");
  }

  static final Map<String, Integer> END_OF_TURN =
      Map.of("llama3", 128_009, "qwen3", 151_645, "gemma3", 106);

  static List<ChatTemplate.Message> messages(JsonNode list) {
    List<ChatTemplate.Message> out = new ArrayList<>();
    for (JsonNode m : list) {
      out.add(new ChatTemplate.Message(m.get("role").asText(), m.get("content").asText()));
    }
    return out;
  }

  @ParameterizedTest
  @MethodSource("families")
  void promptsEqualTransformers(String family) {
    Path tokenizer = SharedModels.require(family + "-tokenizer/tokenizer.json");
    ChatTemplate template = ChatTemplate.forTokenizer(tokenizer);
    HfTokenizer tok = HfTokenizerFamiliesTest.load(family);
    JsonNode fx = HfTokenizerFamiliesTest.fixture(family + "-chat.json").get("conversations");
    for (var it = fx.fields(); it.hasNext(); ) {
      var conversation = it.next();
      JsonNode c = conversation.getValue();
      String prompt = template.render(messages(c.get("messages")), true);
      assertEquals(c.get("prompt").asText(), prompt, family + " " + conversation.getKey());
      assertArrayEquals(
          HfTokenizerFamiliesTest.ints(c.get("ids")),
          tok.encode(prompt, false, false),
          family + " " + conversation.getKey());
    }
  }

  @ParameterizedTest
  @MethodSource("families")
  void stopsAtTheEndOfTurnToken(String family) {
    Path tokenizer = SharedModels.require(family + "-tokenizer/tokenizer.json");
    HfTokenizer tok = HfTokenizerFamiliesTest.load(family);
    int[] stops = ChatTemplate.forTokenizer(tokenizer).stopIds(tok);
    assertEquals(END_OF_TURN.get(family), stops[0], family + " " + Arrays.toString(stops));
    assertTrue(IntStream.of(stops).anyMatch(id -> id == tok.eosId()), Arrays.toString(stops));
  }

  @Test
  void generationConfigEosIdsAreStopsToo(@TempDir Path dir) throws IOException {
    Path models = SharedModels.require("llama3-tokenizer");
    Files.copy(models.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
    // Llama 3.1's generation_config.json lists <|end_of_text|>, <|eom_id|> and <|eot_id|>.
    Files.writeString(
        dir.resolve("generation_config.json"), "{\"eos_token_id\": [128001, 128008, 128009]}");
    int[] stops =
        ChatTemplate.forTokenizer(dir.resolve("tokenizer.json"))
            .stopIds(HfTokenizerFamiliesTest.load("llama3"));
    assertArrayEquals(new int[] {128009, 128001, 128008}, stops);
  }

  @Test
  void templateRefusalIsAnIllegalArgument() {
    ChatTemplate gemma =
        ChatTemplate.forTokenizer(SharedModels.require("gemma3-tokenizer/tokenizer.json"));
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                gemma.render(
                    List.of(
                        new ChatTemplate.Message("user", "a"),
                        new ChatTemplate.Message("user", "b")),
                    true));
    assertTrue(e.getMessage().contains("Conversation roles must alternate"), e.getMessage());
  }

  @Test
  void noTemplateNamesTheFile(@TempDir Path dir) throws IOException {
    // Mistral's tokenizer_config.json has no chat_template.
    Path mistral = SharedModels.require("mistral-tokenizer/tokenizer.json");
    ModelFormatException e =
        assertThrows(ModelFormatException.class, () -> ChatTemplate.forTokenizer(mistral));
    assertEquals(mistral.resolveSibling("tokenizer_config.json"), e.file());
    assertTrue(e.getMessage().contains("has no \"chat_template\""), e.getMessage());
    // A llama2.c tokenizer has no tokenizer_config.json at all.
    Path tok512 = SharedModels.require("stories260K/tok512.bin");
    e = assertThrows(ModelFormatException.class, () -> ChatTemplate.forTokenizer(tok512));
    assertTrue(e.getMessage().contains("tokenizer_config.json"), e.getMessage());
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    // A template that does not parse.
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"chat_template\": \"{% for x %}\"}");
    ChatTemplate broken = ChatTemplate.forTokenizer(dir.resolve("tokenizer.json"));
    e =
        assertThrows(
            ModelFormatException.class,
            () -> broken.render(List.of(new ChatTemplate.Message("user", "a")), true));
    assertTrue(e.getMessage().contains("cannot render the chat template"), e.getMessage());
  }

  @Test
  void pythonStringMethodsAndJinja2Spellings(@TempDir Path dir) throws IOException {
    String template =
        "{%- set ns = namespace(n=messages|length - 1, seen=false) -%}"
            + "{%- for m in messages[::-1] -%}{{ m.role }}{%- endfor -%}|{{ ns.n }}|"
            + "{{ messages[0].content.split('</think>')[-1].lstrip('\\n') }}|"
            + "{{ 'a,,b,'.split(',') | length }}|{{ '  x y  '.split() | length }}|"
            + "{{ '--x--'.strip('-') }}|{% if messages[0].content.startswith('<think>') %}T{% endif %}|"
            + "{{ '\u00a0pad\u00a0' | trim }}|{{ 'ab'.upper() }}|{{ ['a', 1] }}|{{ 'x-'.join(['a', 'b']) }}";
    Files.writeString(
        dir.resolve("tokenizer_config.json"),
        new com.fasterxml.jackson.databind.ObjectMapper()
            .writeValueAsString(Map.of("chat_template", template)));
    String out =
        ChatTemplate.forTokenizer(dir.resolve("tokenizer.json"))
            .render(
                List.of(
                    new ChatTemplate.Message("user", "<think>\nhm\n</think>\n\nanswer"),
                    new ChatTemplate.Message("assistant", "b")),
                false);
    // What jinja2 3.1 gives for the same template and messages.
    assertEquals("assistantuser|1|answer|4|2|x|T|pad|AB|['a', 1]|ax-b", out);
  }
}
