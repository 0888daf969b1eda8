/**
 * Whole-model quantization scaled out on Apache Spark. Spark, Hadoop and Scala jars have no valid
 * module names, so they stay on the class path: this module is compiled with {@code --add-reads
 * quipsharp.spark=ALL-UNNAMED} (see the pom) and its tests and spark-submit run it on the class
 * path, where this descriptor is ignored.
 */
module quipsharp.spark {
  requires quipsharp.core;
  requires quipsharp.cli.options;
  requires info.picocli;
  requires com.fasterxml.jackson.databind;

  opens io.github.quipsharp.spark to info.picocli;
}
