package io.github.quipsharp.finetune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.QuantizationTuner;
import io.github.quipsharp.testing.PublicSignatures;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** quipsharp-finetune's public API mentions no Jackson, JavaCPP/libtorch or core-internal type. */
class FinetuneApiTest {
  private static final PublicSignatures FINETUNE = PublicSignatures.of(FineTuneOptions.class);

  @Test
  void publicSignaturesMentionNoJacksonJavaCppOrInternalType() {
    assertEquals("quipsharp.finetune", FINETUNE.descriptor().name());
    assertEquals(Set.of("io.github.quipsharp.finetune"), FINETUNE.exportedPackages());
    assertTrue(FINETUNE.publicClasses().contains(EndToEndTuner.class));
    // The blockwise tuner is handed to the quantizer as core's public QuantizationTuner; its hook
    // (the internal BlockTuner) is private.
    assertTrue(FINETUNE.publicClasses().contains(BlockwiseTuner.class));
    assertTrue(QuantizationTuner.class.isAssignableFrom(BlockwiseTuner.class));
    List<String> violations = FINETUNE.violations();
    assertEquals(List.of(), violations, String.join("\n", violations));
  }
}
