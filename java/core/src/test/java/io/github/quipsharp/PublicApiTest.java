package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.testing.PublicSignatures;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The public API of quipsharp-core mentions only its own exported packages and the JDK's or other
 * libraries' public types, never Jackson, JavaCPP or a type of its non-exported packages.
 */
class PublicApiTest {
  private static final PublicSignatures CORE = PublicSignatures.of(LlamaModel.class);

  @Test
  void moduleExportsTheUserPackagesAndKeepsTheInternalOneQualified() {
    assertEquals("quipsharp.core", CORE.descriptor().name());
    assertEquals(Set.of("io.github.quipsharp", "io.github.quipsharp.model",
        "io.github.quipsharp.safetensors", "io.github.quipsharp.tokenizer"), CORE.exportedPackages());
    assertTrue(CORE.hiddenPackages().contains("io.github.quipsharp.internal"),
        CORE.hiddenPackages().toString());
  }

  @Test
  void publicSignaturesMentionNoJacksonJavaCppOrInternalType() {
    // Guards against a checker that sees nothing: the API has well over a hundred public classes
    // and nested types to look at.
    assertTrue(CORE.publicClasses().size() > 50, "public classes found: " + CORE.publicClasses());
    List<String> violations = CORE.violations();
    assertEquals(List.of(), violations, String.join("\n", violations));
  }
}
