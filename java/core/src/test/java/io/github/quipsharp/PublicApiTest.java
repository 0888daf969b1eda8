package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.testing.PublicSignatures;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

  /**
   * What only the quantization pipeline calls (shards, assembly, fp16 checks, the checked forward
   * pass) is reached through {@code CoreInternals}, never a public member of an exported type.
   */
  @Test
  void pipelineOnlyMembersAreNotPublic() {
    Map<Class<?>, Set<String>> pipelineOnly = Map.of(
        QuantizedCheckpoint.class, Set.of("writeShard", "readShardReport", "normsShard",
            "writeNormsShard", "assemble", "requireDenseFitF16", "requireF16", "roundF16",
            "quantConfigJson"),
        NonFiniteActivationException.class, Set.of("checkedForward", "allFinite"));
    List<String> found = new ArrayList<>();
    List<String> exposed = new ArrayList<>();
    pipelineOnly.forEach((type, names) -> {
      for (Method m : type.getDeclaredMethods()) {
        if (names.contains(m.getName())) {
          found.add(type.getSimpleName() + "." + m.getName());
          if (Modifier.isPublic(m.getModifiers()) || Modifier.isProtected(m.getModifiers())) {
            exposed.add(m.toString());
          }
        }
      }
    });
    // Each name must still exist (a renamed method would make this check see nothing).
    pipelineOnly.forEach((type, names) -> names.forEach(n -> assertTrue(
        found.contains(type.getSimpleName() + "." + n), type.getSimpleName() + "." + n + " is gone")));
    assertEquals(List.of(), exposed, String.join("\n", exposed));
  }
}
