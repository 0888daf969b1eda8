/**
 * The {@code quipsharp} command line (picocli). Exports nothing: it is run, not called. Its
 * command classes are open to picocli, which reads and sets their annotated fields reflectively.
 */
module quipsharp.cli {
  requires quipsharp.core;
  requires quipsharp.finetune;
  requires quipsharp.cli.options;
  requires info.picocli;
  requires com.fasterxml.jackson.databind;
  requires me.tongfei.progressbar;

  opens io.github.quipsharp.cli to info.picocli;
}
