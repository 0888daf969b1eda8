package io.github.quipsharp;

import io.github.quipsharp.bindings.QuipsharpNative;
import io.github.quipsharp.internal.NativeCalls;

/** The CPU kernel family for native mat-vec products. */
public enum CpuKernel {
  /**
   * The fastest one this CPU supports (chosen once at start-up), at most the one the environment
   * variable {@code QUIPSHARP_CPU_KERNEL} names ({@code auto}, {@code scalar}, {@code avx2} or
   * {@code avx512}).
   */
  AUTO(QuipsharpNative.QS_KERNEL_AUTO),
  /** The portable scalar reference. */
  SCALAR(QuipsharpNative.QS_KERNEL_SCALAR),
  /** x86-64 AVX2 with FMA and F16C. */
  AVX2(QuipsharpNative.QS_KERNEL_AVX2),
  /** AVX-512 (F, BW, VBMI, VNNI) with GFNI for the codebook kernels, AVX2 for fp16/fp32. */
  AVX512(QuipsharpNative.QS_KERNEL_AVX512);

  final int id;

  CpuKernel(int id) {
    this.id = id;
  }

  /**
   * The kernel {@link #AUTO} runs in this process: the widest this CPU has, at most the one {@code
   * QUIPSHARP_CPU_KERNEL} names.
   */
  public static CpuKernel selected() {
    NativeCalls.ensureLoaded();
    int id = QuipsharpNative.qs_cpu_kernel_selected();
    for (CpuKernel k : values()) {
      if (k != AUTO && k.id == id) {
        return k;
      }
    }
    throw new IllegalStateException("unknown native kernel id " + id);
  }

  /** This kernel, or for {@link #AUTO} the one it runs ({@link #selected()}). */
  public CpuKernel resolved() {
    return this == AUTO ? selected() : this;
  }

  /** Whether this kernel can run on the current CPU. */
  public boolean isAvailable() {
    NativeCalls.ensureLoaded();
    return QuipsharpNative.qs_cpu_kernel_available(id) == 1;
  }
}
