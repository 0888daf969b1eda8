package io.github.quipsharp.tokenizer;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

/**
 * The Python {@code str} methods that chat templates call ({@code content.startswith('<tool')},
 * {@code content.split('</think>')[-1].lstrip('\n')}), for Jinjava, which calls Java's {@code
 * String} methods instead. Jinja2 runs these as Python methods, so their Python meaning is what the
 * templates expect: {@code split} takes a literal separator (Java's takes a regex and drops
 * trailing empty strings), {@code strip(chars)} strips a set of characters.
 *
 * <p>An {@link ELResolver} placed before Jinjava's own: it answers method calls on strings for the
 * names below and leaves everything else to the next resolver.
 */
final class PythonStringMethods extends ELResolver {
  private static final Set<String> METHODS =
      Set.of(
          "startswith", "endswith", "strip", "lstrip", "rstrip", "split", "upper", "lower", "title",
          "capitalize", "find", "count", "join", "isdigit", "isspace");

  @Override
  public Object invoke(
      ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
    if (!(base instanceof String s) || method == null || !METHODS.contains(method.toString())) {
      return null;
    }
    Object[] args = params == null ? new Object[0] : params;
    Object result = call(s, method.toString(), args);
    context.setPropertyResolved(true);
    return result;
  }

  private static Object call(String s, String method, Object[] args) {
    return switch (method) {
      case "startswith" -> s.startsWith(text(args, 0));
      case "endswith" -> s.endsWith(text(args, 0));
      case "strip" -> strip(s, chars(args), true, true);
      case "lstrip" -> strip(s, chars(args), true, false);
      case "rstrip" -> strip(s, chars(args), false, true);
      case "split" -> split(s, args);
      case "upper" -> s.toUpperCase(Locale.ROOT);
      case "lower" -> s.toLowerCase(Locale.ROOT);
      case "title" -> title(s);
      case "capitalize" ->
          s.isEmpty() ? s : s.substring(0, 1).toUpperCase(Locale.ROOT)
              + s.substring(1).toLowerCase(Locale.ROOT);
      case "find" -> s.indexOf(text(args, 0));
      case "count" -> count(s, text(args, 0));
      case "join" -> join(s, args);
      case "isdigit" -> !s.isEmpty() && s.chars().allMatch(Character::isDigit);
      case "isspace" -> !s.isEmpty() && s.chars().allMatch(PythonStringMethods::isSpace);
      default -> throw new IllegalStateException(method);
    };
  }

  private static String text(Object[] args, int i) {
    if (args.length <= i || args[i] == null) {
      throw new IllegalArgumentException("missing string argument " + (i + 1));
    }
    return args[i].toString();
  }

  /** The characters to strip: Python's default (no argument or None) is whitespace. */
  private static String chars(Object[] args) {
    return args.length == 0 || args[0] == null ? null : args[0].toString();
  }

  /** Python's {@code str.strip}: a set of characters, or by default Python's whitespace. */
  static String strip(String s, String chars, boolean left, boolean right) {
    int from = 0;
    int to = s.length();
    while (left && from < to && strippable(s.charAt(from), chars)) {
      from++;
    }
    while (right && to > from && strippable(s.charAt(to - 1), chars)) {
      to--;
    }
    return s.substring(from, to);
  }

  private static boolean strippable(char c, String chars) {
    return chars == null ? isSpace(c) : chars.indexOf(c) >= 0;
  }

  /** Python's {@code str.isspace} for one character; Java's test leaves out these four. */
  private static boolean isSpace(int c) {
    return Character.isWhitespace(c) || c == 0x85 || c == 0xA0 || c == 0x2007 || c == 0x202F;
  }

  /** Python's split: by a literal separator (keeping empty parts), or by runs of whitespace. */
  private static List<String> split(String s, Object[] args) {
    String sep = args.length == 0 || args[0] == null ? null : args[0].toString();
    int max = args.length > 1 && args[1] instanceof Number n ? n.intValue() : -1;
    List<String> out = new ArrayList<>();
    if (sep == null) {
      int i = 0;
      while (i < s.length()) {
        while (i < s.length() && isSpace(s.charAt(i))) {
          i++;
        }
        if (i == s.length()) {
          break;
        }
        int j = i;
        if (max >= 0 && out.size() == max) {
          out.add(strip(s.substring(i), null, false, true));
          return out;
        }
        while (j < s.length() && !isSpace(s.charAt(j))) {
          j++;
        }
        out.add(s.substring(i, j));
        i = j;
      }
      return out;
    }
    if (sep.isEmpty()) {
      throw new IllegalArgumentException("empty separator");
    }
    int from = 0;
    for (int at = s.indexOf(sep); at >= 0 && (max < 0 || out.size() < max); at = s.indexOf(sep, from)) {
      out.add(s.substring(from, at));
      from = at + sep.length();
    }
    out.add(s.substring(from));
    return out;
  }

  private static String title(String s) {
    StringBuilder out = new StringBuilder(s.length());
    boolean inWord = false;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      out.append(inWord ? Character.toLowerCase(c) : Character.toUpperCase(c));
      inWord = Character.isLetter(c);
    }
    return out.toString();
  }

  private static int count(String s, String sub) {
    if (sub.isEmpty()) {
      return s.length() + 1;
    }
    int n = 0;
    for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) {
      n++;
    }
    return n;
  }

  private static String join(String sep, Object[] args) {
    if (args.length == 0 || !(args[0] instanceof Iterable<?> items)) {
      throw new IllegalArgumentException("join needs a list");
    }
    StringBuilder out = new StringBuilder();
    boolean first = true;
    for (Object item : items) {
      if (!first) {
        out.append(sep);
      }
      out.append(item);
      first = false;
    }
    return out.toString();
  }

  // Property access is left to the other resolvers.

  @Override
  public Object getValue(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public Class<?> getType(ELContext context, Object base, Object property) {
    return null;
  }

  @Override
  public void setValue(ELContext context, Object base, Object property, Object value) {}

  @Override
  public boolean isReadOnly(ELContext context, Object base, Object property) {
    return true;
  }

  @Override
  public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
    return null;
  }

  @Override
  public Class<?> getCommonPropertyType(ELContext context, Object base) {
    return null;
  }
}
