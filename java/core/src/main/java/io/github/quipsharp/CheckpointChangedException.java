package io.github.quipsharp;

import java.nio.file.Path;

/**
 * A quantized checkpoint does not match the digests it recorded when it was written: a tensor or
 * config field was changed, added or removed. Loading without verification ({@link
 * LoadOptions#withoutVerification}) reads it anyway; the message says so without naming how a
 * command line asks for that ({@link #detail} lets it add its own words).
 */
public class CheckpointChangedException extends ModelFormatException {
  private static final long serialVersionUID = 1L;

  private final String detail;

  /** @param detail what does not match, without the remedy */
  public CheckpointChangedException(Path file, String detail) {
    super(file, detail + "; loading without verification reads it anyway");
    this.detail = detail;
  }

  /** What does not match (e.g. "tensor X is missing (config.json records its digest)"). */
  public String detail() {
    return detail;
  }
}
