/**
 * The command-line options both command lines share: picocli mixins that declare each flag once
 * and build the core settings it stands for, the checks of flag values, and the one-line errors.
 * Core and picocli only, so that the Spark jar carries it without the fine-tuning stack.
 */
module quipsharp.cli.options {
  requires transitive quipsharp.core;
  requires transitive info.picocli;

  exports io.github.quipsharp.cli.options;
  // picocli sets the annotated fields of the mixins reflectively.
  opens io.github.quipsharp.cli.options to info.picocli;
}
