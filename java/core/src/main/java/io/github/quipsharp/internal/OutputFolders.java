package io.github.quipsharp.internal;

import io.github.quipsharp.OutputFolderException;
import io.github.quipsharp.safetensors.TemporaryFiles;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * Checks of a folder that a command writes into, and one-line descriptions of why a write failed
 * (a bare {@link FileSystemException} says only the path: "writing /proc/x: /proc/x").
 */
public final class OutputFolders {
  private OutputFolders() {}

  /**
   * Refuses an existing path that is not a folder.
   *
   * @throws OutputFolderException ({@link OutputFolderException.Problem#IS_A_FILE})
   */
  public static void requireFolderOrAbsent(Path out) {
    if (Files.exists(out) && !Files.isDirectory(out)) {
      throw new OutputFolderException(out.toString(), OutputFolderException.Problem.IS_A_FILE,
          List.of(), null, null);
    }
  }

  /**
   * Refuses a folder that holds anything (after removing the temporary files that killed writes
   * left there, see {@link TemporaryFiles#removeStale}); a missing folder is fine.
   *
   * @throws OutputFolderException naming the folder and what is wrong with it
   */
  public static void requireEmpty(Path out) {
    requireFolderOrAbsent(out);
    if (!Files.isDirectory(out)) {
      return;
    }
    TemporaryFiles.removeStale(out);
    List<String> names;
    try (Stream<Path> entries = Files.list(out)) {
      names = entries.map(p -> p.getFileName().toString()).sorted().limit(4).toList();
    } catch (IOException e) {
      throw new OutputFolderException(out.toString(),
          OutputFolderException.Problem.CANNOT_BE_LISTED, List.of(), reason(e), e);
    }
    if (!names.isEmpty()) {
      throw new OutputFolderException(out.toString(), OutputFolderException.Problem.NOT_EMPTY,
          names, null, null);
    }
  }

  /**
   * Refuses a folder that holds anything ({@link #requireEmpty}), then creates {@code folder} (and
   * its parents) under it; a folder that cannot be created is an {@link OutputFolderException}
   * naming {@code out} and the reason.
   */
  public static void createEmpty(Path out, Path folder) {
    requireEmpty(out);
    try {
      Files.createDirectories(folder);
    } catch (IOException e) {
      throw new OutputFolderException(out.toString(),
          OutputFolderException.Problem.CANNOT_BE_CREATED, List.of(), reason(e), e);
    }
  }

  /** {@code reason (file)} of a failed file operation, in one line (see {@link #describe}). */
  public static String reason(IOException e) {
    return describe("", e).substring(2);
  }

  /** {@code what: reason (file)} for a failed file operation, in one line. */
  public static String describe(String what, IOException e) {
    String reason;
    if (e instanceof AccessDeniedException) {
      reason = "permission denied";
    } else if (e instanceof NoSuchFileException) {
      reason = "no such file or folder";
    } else if (e instanceof FileAlreadyExistsException) {
      reason = "a file of that name exists";
    } else if (e instanceof NotDirectoryException) {
      reason = "not a folder";
    } else if (e instanceof FileSystemException f) {
      reason = f.getReason() != null ? f.getReason() : "the file system refused it";
    } else {
      reason = String.valueOf(e.getMessage());
    }
    String file = e instanceof FileSystemException f && f.getFile() != null ? f.getFile() : null;
    return (what + ": " + reason + (file != null ? " (" + file
        + (f2(e) != null ? " -> " + f2(e) : "") + ")" : "")).replace('\n', ' ');
  }

  private static String f2(IOException e) {
    return e instanceof FileSystemException f ? f.getOtherFile() : null;
  }
}
