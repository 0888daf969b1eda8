package io.github.quipsharp.pipeline;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.model.LlamaConfig;
import org.junit.jupiter.api.Test;

/** A model whose largest layer group cannot fit the heap is refused before any work. */
class QuantizeHeapTest {
  /** Llama-2-7B's widths (2 layers; the layer count does not matter here). */
  static final LlamaConfig SEVEN_B = new LlamaConfig("LlamaForCausalLM", 4096, 11008, 2, 32, 32,
      128, 32000, 4096, 10000, 1e-5, false, false, 1, 2);

  @Test
  void theLargestGroupDecides() {
    // down_proj: 4096 x 11008 weights (4 copies of 4 bytes) and an 11008 x 11008 Hessian (8 + 4).
    assertEquals(16L * 4096 * 11008 + 12L * 11008 * 11008,
        QuantizationRun.groupHeapBytes(SEVEN_B, LinearGroup.DOWN));
    // up+gate stacked: 22016 x 4096, Hessian 4096 x 4096.
    assertEquals(16L * 22016 * 4096 + 12L * 4096 * 4096,
        QuantizationRun.groupHeapBytes(SEVEN_B, LinearGroup.UP));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> QuantizationRun.requireHeap(SEVEN_B, 1L << 30));
    assertTrue(e.getMessage().startsWith("quantizing layer group down (4096 x 11008) needs at "
        + "least 2.0 GiB of Java heap"), e.getMessage());
    assertTrue(e.getMessage().contains("java -Xmx"), e.getMessage());
    QuantizationRun.requireHeap(SEVEN_B, 3L << 30); // fits
  }
}
