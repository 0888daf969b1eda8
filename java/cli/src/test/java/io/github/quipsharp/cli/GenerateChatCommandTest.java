package io.github.quipsharp.cli;

import static io.github.quipsharp.cli.QuantizeMatrixCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * generate --chat: the prompt goes through the chat template next to the tokenizer. The model is
 * stories260K with a byte-level tokenizer.json of our own (the 256 bytes and two chat tokens fit
 * its 512-token vocabulary), so that the test needs no large file.
 */
class GenerateChatCommandTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path tmp;

  /** stories260K-hf with a byte-level tokenizer.json and a ChatML template. */
  private Path chatModel() throws Exception {
    Path source = ModelCommandsTest.models().resolve("stories260K-hf");
    Path dir = tmp.resolve("chat-model");
    Files.createDirectories(dir);
    Files.copy(source.resolve("config.json"), dir.resolve("config.json"));
    Files.copy(source.resolve("model.safetensors"), dir.resolve("model.safetensors"));
    ObjectNode tok = JSON.createObjectNode();
    ArrayNode added = tok.putArray("added_tokens");
    String[] specials = {"<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < specials.length; i++) {
      added.addObject().put("id", 256 + i).put("content", specials[i]).put("single_word", false)
          .put("lstrip", false).put("rstrip", false).put("normalized", false)
          .put("special", true);
    }
    tok.putNull("normalizer");
    ObjectNode byteLevel = JSON.createObjectNode().put("type", "ByteLevel")
        .put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
    tok.set("pre_tokenizer", byteLevel);
    tok.putNull("post_processor");
    tok.set("decoder", byteLevel.deepCopy());
    ObjectNode model = tok.putObject("model").put("type", "BPE");
    ObjectNode vocab = model.putObject("vocab");
    // GPT-2's byte-to-character table: printable bytes stand for themselves, the others for
    // U+0100 upwards; id = byte value.
    int next = 0x100;
    for (int b = 0; b < 256; b++) {
      boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      vocab.put(String.valueOf((char) (printable ? b : next++)), b);
    }
    model.putArray("merges");
    JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tok);
    String template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
        + "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(),
        Map.of("chat_template", template, "eos_token", "<|im_end|>"));
    return dir;
  }

  @Test
  void rendersThePromptThroughTheTemplate() throws Exception {
    Path dir = chatModel();
    String out = run(0, "generate", "--model", dir.toString(), "--chat", "--prompt", "hi",
        "--temperature", "0", "--max-tokens", "6")[0];
    // <|im_start|> "user\nhi" <|im_end|> "\n" <|im_start|> "assistant\n": 1+7+1+1+1+10 tokens.
    Matcher m = Pattern.compile("(\\d+) prompt tokens in .*, (\\d+) new tokens").matcher(out);
    assertTrue(m.find(), out);
    assertEquals(21, Integer.parseInt(m.group(1)), out);
    // Only the answer is printed, not the prompt.
    assertTrue(!out.startsWith("hi") && !out.contains("user\nhi"), out);
    String plain = run(0, "generate", "--model", dir.toString(), "--prompt", "hi",
        "--temperature", "0", "--max-tokens", "6")[0];
    assertTrue(plain.contains("2 prompt tokens"), plain);
  }

  @Test
  void aModelWithoutTemplateIsOneLineError() throws Exception {
    Path dir = chatModel();
    Files.delete(dir.resolve("tokenizer_config.json"));
    String err = run(2, "generate", "--model", dir.toString(), "--chat", "--prompt", "hi")[1];
    assertTrue(err.startsWith("error: --chat needs a chat template: "), err);
    assertTrue(err.contains(dir.resolve("tokenizer_config.json").toString()), err);
    assertEquals(1, err.strip().lines().count(), err);
    Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
    err = run(2, "generate", "--model", dir.toString(), "--chat", "--prompt", "hi")[1];
    assertTrue(err.contains("has no \"chat_template\""), err);
    assertEquals(1, err.strip().lines().count(), err);
  }
}
