package io.github.quipsharp.model;

import io.github.quipsharp.ModelFormatException;
import io.github.quipsharp.safetensors.DType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * A llama2.c "v0" checkpoint ({@code .bin}, see shared/models/README.md): a 7-int32 header, then the
 * fp32 weights layer-stacked in a fixed order; a negative vocab size means an unshared classifier is
 * stored at the end. Tensors are memory-mapped slices and get their Hugging Face names; q/k rows stay
 * in llama2.c order, so the config says RoPE is interleaved.
 */
final class Llama2cSource implements ModelSource {
  private static final int HEADER_BYTES = 28;

  private final Path file;
  private final FileChannel channel;
  private final LlamaConfig config;
  private final Map<String, long[]> regions = new HashMap<>(); // name -> {offset, rows, cols}

  private Llama2cSource(Path file, FileChannel channel, LlamaConfig config) {
    this.file = file;
    this.channel = channel;
    this.config = config;
  }

  static Path findBin(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      List<Path> bins = s.filter(p -> p.getFileName().toString().endsWith(".bin"))
          .filter(p -> !p.getFileName().toString().startsWith("tok"))
          .sorted().toList();
      if (bins.size() != 1) {
        throw new ModelFormatException(dir, bins.isEmpty()
            ? "holds neither config.json (Hugging Face) nor a llama2.c .bin model"
            : "holds several .bin models " + bins + "; name one");
      }
      return bins.get(0);
    } catch (IOException e) {
      throw new ModelFormatException(dir, "cannot be listed: " + e.getMessage(), e);
    }
  }

  static Llama2cSource open(Path file) {
    FileChannel ch;
    try {
      ch = FileChannel.open(file, StandardOpenOption.READ);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new ModelFormatException(file, "no such file");
    } catch (IOException e) {
      throw new ModelFormatException(file, "cannot be opened: " + e.getMessage(), e);
    }
    try {
      long size = ch.size();
      if (size < HEADER_BYTES) {
        throw new ModelFormatException(file, "is " + size + " bytes, shorter than the 28-byte "
            + "llama2.c header");
      }
      ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      ch.read(h, 0);
      h.flip();
      int dim = h.getInt();
      int hidden = h.getInt();
      int layers = h.getInt();
      int heads = h.getInt();
      int kvHeads = h.getInt();
      int vocab = h.getInt();
      int seqLen = h.getInt();
      boolean shared = vocab > 0;
      vocab = Math.abs(vocab);
      if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || vocab <= 0
          || seqLen <= 0 || dim % heads != 0 || dim > 1 << 16 || hidden > 1 << 18 || layers > 1024
          || vocab > 1 << 22 || seqLen > 1 << 22) {
        throw new ModelFormatException(file, "header (dim " + dim + ", hidden " + hidden
            + ", layers " + layers + ", heads " + heads + ", kv_heads " + kvHeads + ", vocab "
            + vocab + ", seq_len " + seqLen + ") is not a valid llama2.c model");
      }
      LlamaConfig cfg;
      try {
        cfg = new LlamaConfig("LlamaForCausalLM", dim, hidden, layers, heads, kvHeads, dim / heads,
            vocab, seqLen, 10000.0, 1e-5, true, shared, 1, 2);
      } catch (IllegalArgumentException e) {
        throw new ModelFormatException(file, e.getMessage(), e);
      }
      Llama2cSource s = new Llama2cSource(file, ch, cfg);
      s.layout(size);
      ModelSource.validate(s);
      return s;
    } catch (IOException e) {
      closeQuietly(ch);
      throw new ModelFormatException(file, "cannot be read: " + e.getMessage(), e);
    } catch (RuntimeException e) {
      closeQuietly(ch);
      throw e;
    }
  }

  private static void closeQuietly(FileChannel ch) {
    try {
      ch.close();
    } catch (IOException ignored) {
      // already failing
    }
  }

  /** Computes every tensor's offset in the README's order; checks the file size. */
  private void layout(long size) {
    LlamaConfig c = config;
    long off = HEADER_BYTES;
    int hd = c.headDim();
    off = place(off, "model.embed_tokens.weight", c.vocabSize(), c.dim());
    off = stacked(off, "input_layernorm.weight", 1, c.dim());
    off = stacked(off, "self_attn.q_proj.weight", c.qDim(), c.dim());
    off = stacked(off, "self_attn.k_proj.weight", c.kvDim(), c.dim());
    off = stacked(off, "self_attn.v_proj.weight", c.kvDim(), c.dim());
    off = stacked(off, "self_attn.o_proj.weight", c.dim(), c.qDim());
    off = stacked(off, "post_attention_layernorm.weight", 1, c.dim());
    off = stacked(off, "mlp.gate_proj.weight", c.hiddenDim(), c.dim());
    off = stacked(off, "mlp.down_proj.weight", c.dim(), c.hiddenDim());
    off = stacked(off, "mlp.up_proj.weight", c.hiddenDim(), c.dim());
    off = place(off, "model.norm.weight", 1, c.dim());
    off += 2L * c.maxSeqLen() * (hd / 2) * 4; // freq_cis_real, freq_cis_imag (unused)
    if (!c.tiedEmbeddings()) {
      off = place(off, "lm_head.weight", c.vocabSize(), c.dim());
    }
    if (off > size) {
      throw new ModelFormatException(file, "is truncated: the header's shapes need " + off
          + " bytes but the file has " + size);
    }
    if (off < size && c.tiedEmbeddings()) {
      // Some exporters append nothing; a longer file with a shared classifier is suspicious.
      throw new ModelFormatException(file, "has " + (size - off) + " bytes after the last tensor "
          + "(wrong header or not a llama2.c v0 file)");
    }
  }

  private long place(long off, String name, long rows, long cols) {
    regions.put(name, new long[] {off, rows, cols});
    return off + rows * cols * 4;
  }

  private long stacked(long off, String suffix, long rows, long cols) {
    for (int l = 0; l < config.layers(); l++) {
      off = place(off, "model.layers." + l + "." + suffix, rows, cols);
    }
    return off;
  }

  @Override
  public Path path() {
    return file;
  }

  @Override
  public String format() {
    return "llama2.c";
  }

  @Override
  public LlamaConfig config() {
    return config;
  }

  @Override
  public Tensor tensor(String name) {
    long[] r = regions.get(name);
    if (r == null) {
      throw new ModelFormatException(file, "tensor " + name + " does not exist in a llama2.c model");
    }
    long bytes = r[1] * r[2] * 4;
    if (bytes > Integer.MAX_VALUE) {
      throw new ModelFormatException(file, "tensor " + name + " is larger than 2 GiB");
    }
    try {
      ByteBuffer b = channel.map(FileChannel.MapMode.READ_ONLY, r[0], bytes)
          .order(ByteOrder.LITTLE_ENDIAN);
      long[] shape = r[1] == 1 ? new long[] {r[2]} : new long[] {r[1], r[2]};
      return new Tensor(name, DType.F32, shape, b);
    } catch (IOException e) {
      throw new ModelFormatException(file, "tensor " + name + " cannot be mapped: " + e.getMessage(), e);
    }
  }

  @Override
  public void close() {
    closeQuietly(channel);
  }
}
