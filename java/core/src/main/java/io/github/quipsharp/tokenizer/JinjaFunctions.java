package io.github.quipsharp.tokenizer;

import com.hubspot.jinjava.interpret.Context;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;

/**
 * What transformers' chat-template environment adds to jinja2, for Jinjava: the function {@code
 * raise_exception(message)}, and jinja2's {@code trim} filter, which strips Python's whitespace
 * (Jinjava's strips Java's, which differs on no-break spaces and control characters).
 *
 * <p>Public only because Jinjava calls {@link #raiseException} by reflection; used by {@link
 * ChatTemplate}, not meant to be called directly.
 */
public final class JinjaFunctions {
  /** Thrown by a template's {@code raise_exception(message)}. */
  static final class RaisedByTemplate extends RuntimeException {
    RaisedByTemplate(String message) {
      super(message);
    }
  }

  private JinjaFunctions() {}

  static void register(Context context) {
    try {
      context.registerFunction(
          new ELFunctionDefinition(
              "",
              "raise_exception",
              JinjaFunctions.class.getMethod("raiseException", Object.class)));
    } catch (NoSuchMethodException e) {
      throw new IllegalStateException(e);
    }
    context.registerFilter(
        new Filter() {
          @Override
          public String getName() {
            return "trim";
          }

          @Override
          public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            String chars = args.length > 0 ? args[0] : null;
            return var == null ? "" : PythonStringMethods.strip(var.toString(), chars, true, true);
          }
        });
  }

  /** Public for Jinjava's reflection only. */
  public static String raiseException(Object message) {
    throw new RaisedByTemplate(String.valueOf(message));
  }
}
