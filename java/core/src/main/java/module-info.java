/**
 * QuIP# quantization and inference over the native engine: the user-facing API is in {@code
 * io.github.quipsharp} (quantizing matrices and models, loading, generating, perplexity, the
 * codebook and Hadamard transforms), {@code .model} (configs and model files), {@code .tokenizer}
 * and {@code .safetensors}. {@code io.github.quipsharp.internal} holds what only the other
 * quipsharp modules use (file helpers, the blockwise-tuning hook, the Hugging Face config codec,
 * kernel benchmarks); {@code io.github.quipsharp.pipeline} is the whole-model quantization pipeline
 * (Hessian store, group quantizer, run-folder layout, sequencer) that the single-machine
 * {@code ModelQuantizer} and the Spark driver share.
 */
module quipsharp.core {
  requires quipsharp.bindings;
  requires org.bytedeco.javacpp;
  requires org.bytedeco.cuda;
  requires com.fasterxml.jackson.databind;
  requires com.google.common;
  requires ai.djl.tokenizers;
  requires jinjava;
  // java.beans: the EL resolver API of the chat templates (PythonStringMethods).
  requires java.desktop;

  exports io.github.quipsharp;
  exports io.github.quipsharp.model;
  exports io.github.quipsharp.safetensors;
  exports io.github.quipsharp.tokenizer;
  // Qualified: only these modules may use the internals (quipsharp.cli.options: the shared picocli
  // options module of issue 22, which maps core's errors and output-folder checks for the CLIs).
  exports io.github.quipsharp.internal to
      quipsharp.finetune,
      quipsharp.cli,
      quipsharp.cli.options,
      quipsharp.spark,
      quipsharp.bench;
  exports io.github.quipsharp.pipeline to
      quipsharp.finetune,
      quipsharp.cli,
      quipsharp.cli.options,
      quipsharp.spark,
      quipsharp.bench;
}
