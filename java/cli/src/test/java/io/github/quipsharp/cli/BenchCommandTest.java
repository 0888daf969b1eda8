package io.github.quipsharp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

/** The bench commands' output contract (keys and sanity of values; speed is never asserted). */
class BenchCommandTest {
  static JsonNode lastLineJson(String stdout) throws Exception {
    String[] lines = stdout.strip().split("\n");
    return new ObjectMapper().readTree(lines[lines.length - 1]);
  }

  @Test
  void matvecPrintsTheDocumentedJsonKeysForEveryBitWidth() throws Exception {
    for (String bits : new String[] {"2", "3", "4", "16", "32"}) {
      String out = QuantizeMatrixCommandTest.run(0, "bench", "matvec", "--rows", "256", "--cols",
          "512", "--bits", bits, "--threads", "1", "--layers", "2", "--seconds", "0.02")[0];
      JsonNode json = lastLineJson(out);
      for (String key : new String[] {"seconds_per_call", "gweights_per_s", "weight_gbytes_per_s",
          "fp32_equiv_gbytes_per_s"}) {
        assertTrue(json.get(key).asDouble() > 0, key + " in " + json);
      }
      assertEquals(Integer.parseInt(bits), json.get("bits").asInt());
      // Consistency of the derived figures: weights/s = rows*cols/time, bytes follow the bit width.
      double perCall = json.get("seconds_per_call").asDouble();
      assertEquals(256.0 * 512 / perCall / 1e9, json.get("gweights_per_s").asDouble(), 1e-9 / perCall);
      assertEquals(256L * 512 * Integer.parseInt(bits) / 8, json.get("weight_bytes_per_layer").asLong());
      assertEquals("auto", json.get("kernel").asText());
      assertEquals(io.github.quipsharp.CpuKernel.selected().name().toLowerCase(java.util.Locale.ROOT),
          json.get("kernel_selected").asText());
    }
  }

  @Test
  void memoryPrintsReadAndMemcpyBandwidth() throws Exception {
    String out = QuantizeMatrixCommandTest.run(0, "bench", "memory", "--threads", "1", "--bytes",
        "" + (8 << 20), "--seconds", "0.02")[0];
    JsonNode json = lastLineJson(out);
    assertTrue(json.get("read_gbytes_per_s").asDouble() > 0, json.toString());
    assertTrue(json.get("memcpy_gbytes_per_s").asDouble() > 0, json.toString());
    assertEquals(8 << 20, json.get("bytes").asLong());
  }

  @Test
  void badArgumentsAreClearErrors() {
    String err = QuantizeMatrixCommandTest.run(2, "bench", "matvec", "--rows", "100", "--cols", "64",
        "--bits", "2", "--seconds", "0.01")[1];
    assertTrue(err.contains("rows = 100"), err);
    err = QuantizeMatrixCommandTest.run(2, "bench", "matvec", "--rows", "64", "--cols", "64",
        "--bits", "5", "--seconds", "0.01")[1];
    assertTrue(err.contains("bits = 5"), err);
    err = QuantizeMatrixCommandTest.run(2, "bench", "memory", "--threads", "0")[1];
    assertTrue(err.contains("threads = 0"), err);
  }
}
