package io.github.quipsharp.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.lang.module.ModuleReference;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * What a module's public API mentions: every public or protected member (methods, constructors,
 * fields, record components, supertypes, type bounds, thrown types; generic arguments included) of
 * every public class in the packages its {@code module-info} exports to everyone. A mention is
 * reported when it names a type of a package that is not exported to everyone, a Jackson type
 * ({@code com.fasterxml.jackson}) or a JavaCPP type ({@code org.bytedeco}).
 *
 * <p>The module is read from the {@code module-info.class} beside a class of it, so this works
 * whether the tests run on the module path or the class path.
 */
public final class PublicSignatures {
  private static final List<String> FOREIGN = List.of("com.fasterxml.jackson.", "org.bytedeco.");

  /** The descriptors of the other modules met, by the location of their classes. */
  private static final java.util.Map<String, ModuleDescriptor> OTHERS =
      new java.util.concurrent.ConcurrentHashMap<>();

  private final ModuleDescriptor descriptor;
  private final Path classes;
  private final Set<String> exported = new HashSet<>();
  private final Set<String> hidden = new HashSet<>();

  private PublicSignatures(ModuleDescriptor descriptor, Path classes) {
    this.descriptor = descriptor;
    this.classes = classes;
    for (ModuleDescriptor.Exports e : descriptor.exports()) {
      if (!e.isQualified()) {
        exported.add(e.source());
      }
    }
    for (String p : descriptor.packages()) {
      if (!exported.contains(p)) {
        hidden.add(p);
      }
    }
  }

  /** The module whose classes (folder or jar) hold {@code member}. */
  public static PublicSignatures of(Class<?> member) {
    try {
      Path location = Path.of(member.getProtectionDomain().getCodeSource().getLocation().toURI());
      ModuleReference ref = ModuleFinder.of(location).findAll().stream().findFirst()
          .orElseThrow(() -> new AssertionError("no module at " + location));
      if (ref.descriptor().isAutomatic()) {
        throw new AssertionError(location + " has no module-info.class");
      }
      return new PublicSignatures(ref.descriptor(), location);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  public ModuleDescriptor descriptor() {
    return descriptor;
  }

  /** The packages exported to every module. */
  public Set<String> exportedPackages() {
    return new TreeSet<>(exported);
  }

  /** The packages not exported to every module (qualified exports included). */
  public Set<String> hiddenPackages() {
    return new TreeSet<>(hidden);
  }

  /** The public classes of the exported packages (nested ones included), by name. */
  public List<Class<?>> publicClasses() {
    List<Class<?>> out = new ArrayList<>();
    if (!Files.isDirectory(classes)) {
      throw new AssertionError(classes + " is not a class folder");
    }
    try (Stream<Path> files = Files.walk(classes)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String rel = classes.relativize(f).toString();
        if (!rel.endsWith(".class") || rel.endsWith("module-info.class")
            || rel.endsWith("package-info.class")) {
          continue;
        }
        String name = rel.substring(0, rel.length() - ".class".length()).replace('/', '.');
        int dot = name.lastIndexOf('.');
        if (!exported.contains(name.substring(0, dot))) {
          continue;
        }
        Class<?> c = Class.forName(name, false, PublicSignatures.class.getClassLoader());
        if (isVisible(c)) {
          out.add(c);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (ClassNotFoundException e) {
      throw new AssertionError(e);
    }
    return out;
  }

  private static boolean isVisible(Class<?> c) {
    for (Class<?> k = c; k != null; k = k.getDeclaringClass()) {
      if (!Modifier.isPublic(k.getModifiers()) || k.isAnonymousClass() || k.isSynthetic()) {
        return false;
      }
    }
    return true;
  }

  private static boolean isApi(int modifiers) {
    return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
  }

  /**
   * Every mention of a forbidden type, one line each ("Class.member: type"), sorted; empty when the
   * exported API is clean.
   */
  public List<String> violations() {
    Set<String> out = new TreeSet<>();
    for (Class<?> c : publicClasses()) {
      String owner = c.getName().substring(c.getPackageName().length() + 1);
      check(owner + " extends", c.getGenericSuperclass(), out);
      for (Type t : c.getGenericInterfaces()) {
        check(owner + " implements", t, out);
      }
      for (TypeVariable<?> v : c.getTypeParameters()) {
        check(owner + "<" + v.getName() + ">", v, out);
      }
      if (c.isRecord() && isApi(c.getModifiers())) {
        for (RecordComponent rc : c.getRecordComponents()) {
          check(owner + "." + rc.getName(), rc.getGenericType(), out);
        }
      }
      for (Field f : c.getDeclaredFields()) {
        if (isApi(f.getModifiers()) && !f.isSynthetic()) {
          check(owner + "." + f.getName(), f.getGenericType(), out);
        }
      }
      for (Constructor<?> k : c.getDeclaredConstructors()) {
        if (isApi(k.getModifiers()) && !k.isSynthetic()) {
          checkExecutable(owner + ".<init>", k, out);
        }
      }
      for (Method m : c.getDeclaredMethods()) {
        if (isApi(m.getModifiers()) && !m.isSynthetic() && !m.isBridge()) {
          checkExecutable(owner + "." + m.getName(), m, out);
          check(owner + "." + m.getName() + " returns", m.getGenericReturnType(), out);
        }
      }
    }
    return new ArrayList<>(out);
  }

  private void checkExecutable(String where, Executable e, Set<String> out) {
    for (Type t : e.getGenericParameterTypes()) {
      check(where + " parameter", t, out);
    }
    for (Type t : e.getGenericExceptionTypes()) {
      check(where + " throws", t, out);
    }
    for (TypeVariable<?> v : e.getTypeParameters()) {
      check(where + "<" + v.getName() + ">", v, out);
    }
  }

  private void check(String where, Type type, Set<String> out) {
    walk(where, type, out, new HashSet<>());
  }

  /**
   * Whether {@code c}, a class of another module of this project, is in a package that its module
   * does not export to everyone (read from the module-info beside it, so also on the class path).
   */
  private boolean hiddenByItsModule(Class<?> c) {
    if (!c.getPackageName().startsWith("io.github.quipsharp")
        || descriptor.packages().contains(c.getPackageName())) {
      return false;
    }
    ModuleDescriptor other = OTHERS.computeIfAbsent(c.getProtectionDomain().getCodeSource()
        .getLocation().toString(), location -> {
          try {
            return ModuleFinder.of(Path.of(new java.net.URI(location))).findAll().stream()
                .findFirst().map(ModuleReference::descriptor).orElse(null);
          } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
          }
        });
    if (other == null || other.isAutomatic()) {
      throw new AssertionError(c + " comes from " + c.getProtectionDomain().getCodeSource()
          .getLocation() + ", which has no module-info");
    }
    return other.exports().stream()
        .noneMatch(e -> !e.isQualified() && e.source().equals(c.getPackageName()));
  }

  private void walk(String where, Type type, Set<String> out, Set<Type> seen) {
    if (type == null || !seen.add(type)) {
      return;
    }
    if (type instanceof Class<?> k) {
      Class<?> c = k;
      while (c.isArray()) {
        c = c.getComponentType();
      }
      if (c.isPrimitive()) {
        return;
      }
      String name = c.getName();
      boolean foreign = FOREIGN.stream().anyMatch(name::startsWith);
      if (foreign || hidden.contains(c.getPackageName()) || hiddenByItsModule(c)) {
        out.add(where + ": " + name);
      }
    } else if (type instanceof ParameterizedType p) {
      walk(where, p.getRawType(), out, seen);
      walk(where, p.getOwnerType(), out, seen);
      for (Type a : p.getActualTypeArguments()) {
        walk(where, a, out, seen);
      }
    } else if (type instanceof WildcardType w) {
      for (Type b : w.getUpperBounds()) {
        walk(where, b, out, seen);
      }
      for (Type b : w.getLowerBounds()) {
        walk(where, b, out, seen);
      }
    } else if (type instanceof GenericArrayType g) {
      walk(where, g.getGenericComponentType(), out, seen);
    } else if (type instanceof TypeVariable<?> v) {
      for (Type b : v.getBounds()) {
        walk(where, b, out, seen);
      }
    }
  }
}
