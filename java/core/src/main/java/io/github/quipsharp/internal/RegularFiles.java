package io.github.quipsharp.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a file is expected, only a regular file will do: opening a FIFO blocks until someone writes
 * to it (a command would hang), and a device or a folder is never a model or a text.
 */
public final class RegularFiles {
  private RegularFiles() {}

  /**
   * Why {@code path} is not a regular file ("does not exist", "is a folder", "is a FIFO (named
   * pipe)", ...), or null when it is one (symbolic links are followed).
   */
  public static String whyNot(Path path) {
    if (Files.isRegularFile(path)) {
      return null;
    }
    if (!Files.exists(path)) {
      return "does not exist";
    }
    if (Files.isDirectory(path)) {
      return "is a folder, not a file";
    }
    return "is " + kind(path) + ", not a regular file";
  }

  /** {@link #whyNot} as an {@link IllegalArgumentException} naming {@code what} (e.g. "--text"). */
  public static void require(Path path, String what) {
    String why = whyNot(path);
    if (why != null) {
      throw new IllegalArgumentException(what + " " + path + " " + why);
    }
  }

  private static String kind(Path path) {
    try {
      int mode = (Integer) Files.getAttribute(path, "unix:mode");
      return switch (mode & 0170000) {
        case 0010000 -> "a FIFO (named pipe)";
        case 0020000 -> "a character device";
        case 0060000 -> "a block device";
        case 0140000 -> "a socket";
        default -> "a special file";
      };
    } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
      return "a special file (FIFO, device or socket)";
    }
  }
}
