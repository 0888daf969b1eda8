package io.github.quipsharp.tokenizer;

import java.util.regex.Pattern;

/**
 * Two spellings of Jinja2 that chat templates use and Jinjava 2.8's expression parser does not
 * read, rewritten into equivalents it does (Qwen 3's template has both):
 *
 * <ul>
 *   <li>{@code xs[::-1]} (a slice with a step) becomes {@code xs|reverse};
 *   <li>in {@code namespace(a=1, n=xs|length - 1)}, Jinjava binds {@code n=xs|length} before the
 *       {@code - 1} and fails, so each keyword argument's value is put in parentheses: {@code
 *       namespace(a=(1), n=(xs|length - 1))}.
 * </ul>
 *
 * Only these two patterns are touched; everything else reaches Jinjava unchanged, and the
 * rendered prompts are tested against Python's jinja2 (transformers' apply_chat_template).
 */
final class Jinja2Syntax {
  private static final Pattern REVERSE_SLICE = Pattern.compile("\\[\\s*::\\s*-1\\s*]");
  private static final String NAMESPACE = "namespace(";

  private Jinja2Syntax() {}

  static String forJinjava(String template) {
    String s = REVERSE_SLICE.matcher(template).replaceAll("|reverse");
    StringBuilder out = new StringBuilder(s.length() + 16);
    int from = 0;
    for (int at = s.indexOf(NAMESPACE); at >= 0; at = s.indexOf(NAMESPACE, from)) {
      int open = at + NAMESPACE.length();
      int close = matchingParen(s, open);
      if (close < 0 || (at > 0 && Character.isJavaIdentifierPart(s.charAt(at - 1)))) {
        out.append(s, from, open);
        from = open;
        continue;
      }
      out.append(s, from, open).append(parenthesizeKeywordValues(s.substring(open, close)));
      from = close;
    }
    return out.append(s.substring(from)).toString();
  }

  /** Index of the ')' that closes the '(' before {@code start}, skipping strings; or -1. */
  private static int matchingParen(String s, int start) {
    int depth = 0;
    char quote = 0;
    for (int i = start; i < s.length(); i++) {
      char c = s.charAt(i);
      if (quote != 0) {
        if (c == '\\') {
          i++;
        } else if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) {
          return c == ')' ? i : -1;
        }
        depth--;
      }
    }
    return -1;
  }

  /** {@code a=x, b=y - 1} becomes {@code a=(x), b=(y - 1)}; commas inside brackets stay. */
  private static String parenthesizeKeywordValues(String args) {
    StringBuilder out = new StringBuilder(args.length() + 8);
    int depth = 0;
    char quote = 0;
    int start = 0;
    for (int i = 0; i <= args.length(); i++) {
      char c = i < args.length() ? args.charAt(i) : ',';
      if (quote != 0) {
        if (c == '\\') {
          i++;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '(' || c == '[' || c == '{') {
        depth++;
      } else if (c == ')' || c == ']' || c == '}') {
        depth--;
      } else if (c == ',' && depth == 0) {
        out.append(keywordInParens(args.substring(start, i)));
        if (i < args.length()) {
          out.append(',');
        }
        start = i + 1;
      }
    }
    return out.toString();
  }

  private static String keywordInParens(String arg) {
    int eq = arg.indexOf('=');
    boolean keyword =
        eq > 0
            && arg.substring(0, eq).trim().matches("[A-Za-z_][A-Za-z0-9_]*")
            && (eq + 1 >= arg.length() || arg.charAt(eq + 1) != '=');
    if (!keyword || arg.substring(eq + 1).isBlank()) {
      return arg;
    }
    return arg.substring(0, eq + 1) + "(" + arg.substring(eq + 1) + ")";
  }
}
