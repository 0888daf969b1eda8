package io.github.quipsharp.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine;

/** Every command's --help documents every flag it takes (those of its mixins included). */
class HelpTest {
  /** Every command below {@code c}, with {@code c}. */
  static List<CommandLine> commands(CommandLine c) {
    List<CommandLine> all = new ArrayList<>(List.of(c));
    for (CommandLine sub : c.getSubcommands().values()) {
      if (!(sub.getCommand() instanceof CommandLine.HelpCommand)) {
        all.addAll(commands(sub));
      }
    }
    return all;
  }

  @Test
  void everyFlagOfEveryCommandIsInItsHelpWithADescription() {
    List<CommandLine> all = commands(new CommandLine(new Main()));
    assertEquals(13, all.size(), "quipsharp, 8 commands, bench and its 3 benchmarks");
    int flags = 0;
    for (CommandLine c : all) {
      CommandSpec spec = c.getCommandSpec();
      String name = spec.qualifiedName();
      StringWriter out = new StringWriter();
      StringWriter err = new StringWriter();
      // "quipsharp bench matvec" -> bench matvec --help
      String[] words = name.split(" ");
      String[] args = Arrays.copyOfRange(words, 1, words.length + 1);
      args[args.length - 1] = "--help";
      assertEquals(0, Main.run(new PrintWriter(out, true), new PrintWriter(err, true), args),
          err.toString());
      String help = out.toString();
      for (OptionSpec o : spec.options()) {
        String text = String.join(" ", o.description()).strip();
        assertFalse(text.isEmpty(), name + " " + o.longestName() + " has no description");
        // The option's line, then the first words of its description (wrapped further down).
        assertTrue(help.contains(o.longestName()), name + " --help lacks " + o.longestName());
        String firstWords = text.split("\\s+")[0];
        assertTrue(help.contains(firstWords), name + " --help lacks the text of "
            + o.longestName() + ": " + firstWords);
        flags++;
      }
    }
    assertTrue(flags > 100, flags + " flags");
  }
}
