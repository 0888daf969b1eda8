/**
 * Fine-tuning of quantized models over libtorch (QUIPSHARP.md §6): blockwise tuning during
 * quantization ({@code BlockwiseTuner}), end-to-end tuning of a checkpoint ({@code EndToEndTuner}),
 * their options and exception. Everything else in the package is package-private.
 */
module quipsharp.finetune {
  requires transitive quipsharp.core;
  requires org.bytedeco.javacpp;
  requires org.bytedeco.pytorch;
  requires com.fasterxml.jackson.databind;

  exports io.github.quipsharp.finetune;
}
