/**
 * The JavaCPP bindings of the native engine (generated from native/include/quipsharp) with the
 * native libraries under {@code io/github/quipsharp/bindings/linux-x86_64/}. Open, as JavaCPP's
 * own platform modules are: JavaCPP's Loader reads the annotations and the library resources of
 * these classes reflectively. Only quipsharp.core calls them.
 */
open module quipsharp.bindings {
  requires transitive org.bytedeco.javacpp;

  exports io.github.quipsharp.bindings to quipsharp.core;
}
