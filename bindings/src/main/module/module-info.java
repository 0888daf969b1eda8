/**
 * The JavaCPP bindings of the native engine (generated from native/include/quipsharp) with the
 * native libraries under {@code io/github/quipsharp/bindings/linux-x86_64/}. Only quipsharp.core
 * calls them; JavaCPP's Loader reads their annotations, presets and library resources
 * reflectively, so both packages are open to it alone.
 */
module quipsharp.bindings {
  requires transitive org.bytedeco.javacpp;

  exports io.github.quipsharp.bindings to quipsharp.core;
  opens io.github.quipsharp.bindings to org.bytedeco.javacpp;
  opens io.github.quipsharp.bindings.presets to org.bytedeco.javacpp;
}
