package io.github.quipsharp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.NativeCalls;
import org.junit.jupiter.api.Test;

/**
 * The one table from native statuses to Java exceptions (NativeCalls.exception), and statuses that
 * reach it from the native entry points that build objects (qs_*_create with an out parameter).
 */
class NativeStatusTest {
  static {
    NativeCalls.ensureLoaded();
  }

  @Test
  void outOfMemoryIsItsOwnTypeNotABadArgument() {
    RuntimeException host = NativeCalls.exception(QuipsharpNative.QS_ERR_OUT_OF_MEMORY, "ctx: out");
    NativeOutOfMemoryException h = assertInstanceOf(NativeOutOfMemoryException.class, host);
    assertFalse(h.onDevice());
    assertFalse(host instanceof IllegalArgumentException);
    assertEquals("ctx: out", host.getMessage());
    RuntimeException device =
        NativeCalls.exception(QuipsharpNative.QS_ERR_DEVICE_OUT_OF_MEMORY, "ctx: gpu");
    assertTrue(assertInstanceOf(NativeOutOfMemoryException.class, device).onDevice());
  }

  @Test
  void eachStatusMapsToItsException() {
    assertEquals(IllegalArgumentException.class,
        NativeCalls.exception(QuipsharpNative.QS_ERR_INVALID_ARGUMENT, "m").getClass());
    // Its own type (an IllegalArgumentException still): told apart by status, not by its words.
    assertEquals(NonFiniteValueException.class,
        NativeCalls.exception(QuipsharpNative.QS_ERR_NON_FINITE, "m").getClass());
    assertTrue(NativeCalls.exception(QuipsharpNative.QS_ERR_NON_FINITE, "m")
        instanceof IllegalArgumentException);
    assertEquals(NotPositiveDefiniteException.class,
        NativeCalls.exception(QuipsharpNative.QS_ERR_NOT_POSITIVE_DEFINITE, "m").getClass());
    for (int status : new int[] {QuipsharpNative.QS_ERR_NO_CUDA_DEVICE, QuipsharpNative.QS_ERR_CUDA,
        QuipsharpNative.QS_ERR_INTERNAL}) {
      assertEquals(QuipsharpException.class, NativeCalls.exception(status, "m").getClass(),
          "status " + status);
    }
    RuntimeException unknown = NativeCalls.exception(99, "m");
    assertEquals(QuipsharpException.class, unknown.getClass());
    assertTrue(unknown.getMessage().contains("99"), unknown.getMessage());
  }

  @Test
  void aRefusedLayerCarriesTheNativeStatusAndMessage() {
    // A 2-bit code must be < 65536: the parts pass Java's length checks, qs_qlayer_create refuses.
    QuantConfig cfg = QuantConfig.builder().bits(2).incoherence(false).build();
    int[] codes = new int[16 * 16 / 8];
    codes[5] = 0x10000;
    float[] ones = new float[16];
    java.util.Arrays.fill(ones, 1f);
    try (QuantizedLinear q = QuantizedLinear.fromParts(16, 16, cfg, codes, ones, ones, 1.0)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, q::toCpu);
      assertTrue(e.getMessage().startsWith("QuantizedLinear.toCpu: desc->codes[5] = 65536"),
          e.getMessage());
      // The same description through the decode entry point.
      IllegalArgumentException d = assertThrows(IllegalArgumentException.class, q::decode);
      assertTrue(d.getMessage().contains("codes[5]"), d.getMessage());
    }
  }
}
