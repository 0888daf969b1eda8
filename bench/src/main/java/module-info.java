/**
 * JMH benchmarks and measurement programs. Compiled as a module to prove they need nothing beyond
 * the API and the internals exported to them; benchmarks.jar (shaded) runs them on the class path.
 */
module quipsharp.bench {
  requires quipsharp.core;
  requires quipsharp.finetune;
  requires jmh.core;
  requires org.knowm.xchart;
  requires com.fasterxml.jackson.databind;
  requires java.desktop;
  requires java.management;
  requires jdk.management;
}
