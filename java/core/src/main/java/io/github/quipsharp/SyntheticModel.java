package io.github.quipsharp;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.AtomicFiles;
import io.github.quipsharp.internal.HuggingFaceConfig;
import io.github.quipsharp.internal.OutputFolders;
import io.github.quipsharp.model.LlamaConfig;
import io.github.quipsharp.model.ModelFamily;
import io.github.quipsharp.model.WeightSpec;
import io.github.quipsharp.safetensors.DType;
import io.github.quipsharp.safetensors.HalfFloat;
import io.github.quipsharp.safetensors.SafetensorsWriter;
import io.github.quipsharp.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * A model of a supported family with random weights, for speed and scale work (the real model here
 * is tiny), written as a Hugging Face folder as the family's own checkpoints are: {@code config.json}
 * with the family's keys, {@code model.safetensors} under the family's tensor names (Phi-3's fused
 * {@code qkv_proj} and {@code gate_up_proj}), and a tokenizer: a real one copied with its companion
 * files ({@link #write(Path, LlamaConfig, DType, long, Path, Progress)}), else a byte-level llama2.c
 * tokenizer ({@code tokenizer.bin}: BOS/EOS, the 256 byte tokens, printable ASCII, then letter pairs)
 * when the vocabulary has room for the byte tokens.
 *
 * <p>Values: linear weights, embeddings and biases N(0, 0.02²); norms 1, except Gemma's, which are
 * stored as w with the effective scale 1 + w and are written as 0 (transformers' initialization).
 */
public final class SyntheticModel {
  /** Standard deviation of the random weights. */
  public static final double WEIGHT_SD = 0.02;

  private static final ObjectMapper JSON = new ObjectMapper();

  private SyntheticModel() {}

  /** Progress: called after each tensor with its name. */
  public interface Progress {
    void tensorWritten(String name, int done, int total);
  }

  /**
   * The sizes of a synthetic model.
   *
   * @param tied whether the head shares the embedding (no {@code lm_head.weight})
   */
  public record Shape(int dim, int hidden, int layers, int heads, int kvHeads, int headDim, int vocab,
      int ctx, boolean tied) {
    public Shape {
      if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kvHeads <= 0 || headDim <= 0
          || vocab <= 0 || ctx <= 0) {
        throw new IllegalArgumentException("model sizes must be positive: dim " + dim + ", hidden "
            + hidden + ", layers " + layers + ", heads " + heads + ", kv heads " + kvHeads
            + ", head dim " + headDim + ", vocab " + vocab + ", ctx " + ctx);
      }
    }
  }

  /**
   * The families {@code synth-model --arch} writes. Each one's {@link #shape} is that of a real
   * model of the family (named in {@link #model}), and {@link #config} gives the family's
   * config.json keys with their values in that model (RoPE, biases, norms, soft-caps, windows).
   */
  public enum Arch {
    /** Llama 2 7B's block (the long-standing synth-model default; vocabulary 512 for the byte tokenizer). */
    LLAMA("llama", ModelFamily.LLAMA, "Llama-2-7B block, byte tokenizer vocabulary",
        new Shape(4096, 11008, 32, 32, 32, 128, 512, 4096, true)),
    /** Llama 3.1 8B: theta 500000, llama3 RoPE scaling (factor 8, original context 8192). */
    LLAMA3("llama3", ModelFamily.LLAMA, "Llama-3.1-8B",
        new Shape(4096, 14336, 32, 32, 8, 128, 128256, 131072, false)),
    /** Mistral 7B v0.1: sliding window 4096 on every layer. */
    MISTRAL("mistral", ModelFamily.MISTRAL, "Mistral-7B-v0.1",
        new Shape(4096, 14336, 32, 32, 8, 128, 32000, 32768, false)),
    /** Qwen 2.5 7B: q/k/v biases, theta 1000000. */
    QWEN2("qwen2", ModelFamily.QWEN2, "Qwen2.5-7B",
        new Shape(3584, 18944, 28, 28, 4, 128, 152064, 32768, false)),
    /** Qwen 3 8B: per-head q/k norms, head_dim 128. */
    QWEN3("qwen3", ModelFamily.QWEN3, "Qwen3-8B",
        new Shape(4096, 12288, 36, 32, 8, 128, 151936, 40960, false)),
    /** Gemma 7B: GeGLU, (1 + w) norms, embeddings x sqrt(hidden), head_dim 256, tied head. */
    GEMMA("gemma", ModelFamily.GEMMA, "Gemma-7B",
        new Shape(3072, 24576, 28, 16, 16, 256, 256000, 8192, true)),
    /** Gemma 2 9B: sandwich norms, soft-caps 50 / 30, window 4096 on alternate layers. */
    GEMMA2("gemma2", ModelFamily.GEMMA2, "Gemma-2-9B",
        new Shape(3584, 14336, 42, 16, 8, 256, 256000, 8192, true)),
    /** Phi-3 mini 4k: fused qkv_proj and gate_up_proj, sliding window 2047. */
    PHI3("phi3", ModelFamily.PHI3, "Phi-3-mini-4k",
        new Shape(3072, 8192, 32, 32, 32, 96, 32064, 4096, false));

    private final String cliName;
    private final ModelFamily family;
    private final String model;
    private final Shape shape;

    Arch(String cliName, ModelFamily family, String model, Shape shape) {
      this.cliName = cliName;
      this.family = family;
      this.model = model;
      this.shape = shape;
    }

    /** The {@code --arch} value. */
    public String cliName() {
      return cliName;
    }

    public ModelFamily family() {
      return family;
    }

    /** The real model whose shape and settings are the defaults. */
    public String model() {
      return model;
    }

    /** The real model's sizes (all its layers). */
    public Shape shape() {
      return shape;
    }

    /** The arch named {@code name} ({@link #cliName}), or null. */
    public static Arch ofName(String name) {
      for (Arch a : values()) {
        if (a.cliName.equals(name)) {
          return a;
        }
      }
      return null;
    }

    /** The default BOS and EOS ids of the family's tokenizer. */
    int[] specialIds() {
      return switch (this) {
        case LLAMA3 -> new int[] {128000, 128001};
        case QWEN2 -> new int[] {151643, 151643};
        case QWEN3 -> new int[] {151643, 151645};
        case GEMMA, GEMMA2 -> new int[] {2, 1};
        case PHI3 -> new int[] {1, 32000};
        default -> new int[] {1, 2};
      };
    }

    /**
     * The config.json of a model of this arch with sizes {@code s} in {@code dtype}, in the spelling
     * the family's published checkpoints use (transformers 4.x: top-level rope_theta and
     * rope_scaling); {@code bos} / {@code eos} &lt; 0 take the family's ids.
     */
    private ObjectNode configJson(Shape s, DType dtype, int bos, int eos) {
      ObjectNode c = JSON.createObjectNode();
      c.putArray("architectures").add(family.architecture());
      c.put("model_type", family.modelType());
      c.put("hidden_size", s.dim());
      c.put("intermediate_size", s.hidden());
      c.put("num_hidden_layers", s.layers());
      c.put("num_attention_heads", s.heads());
      c.put("num_key_value_heads", s.kvHeads());
      c.put("head_dim", s.headDim());
      c.put("vocab_size", s.vocab());
      c.put("max_position_embeddings", s.ctx());
      c.put("tie_word_embeddings", s.tied());
      c.put("bos_token_id", bos >= 0 ? bos : specialIds()[0]);
      c.put("eos_token_id", eos >= 0 ? eos : specialIds()[1]);
      c.put("torch_dtype", dtypeName(dtype));
      c.put("rms_norm_eps", switch (family) {
        case LLAMA, MISTRAL, PHI3 -> 1e-5;
        default -> 1e-6;
      });
      c.put("rope_theta", switch (this) {
        case LLAMA3 -> 500000.0;
        case QWEN2, QWEN3 -> 1000000.0;
        default -> 10000.0;
      });
      c.put(this == GEMMA2 ? "hidden_activation" : "hidden_act",
          family.isGemma() ? "gelu_pytorch_tanh" : "silu");
      switch (this) {
        case LLAMA3 -> c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0)
            .put("low_freq_factor", 1.0).put("high_freq_factor", 4.0)
            .put("original_max_position_embeddings", 8192);
        case MISTRAL -> c.put("sliding_window", 4096);
        case QWEN2, QWEN3 -> c.put("use_sliding_window", false).put("sliding_window", s.ctx())
            .put("max_window_layers", s.layers());
        case GEMMA2 -> c.put("query_pre_attn_scalar", 256).put("attn_logit_softcapping", 50.0)
            .put("final_logit_softcapping", 30.0).put("sliding_window", 4096);
        case PHI3 -> c.put("sliding_window", 2047);
        default -> { }
      }
      return c;
    }

    /**
     * How a refusal of {@link #config} names the config it read: the {@link
     * ModelFormatException#file} of its cause.
     */
    public String configName() {
      return "the synthetic " + cliName + " config";
    }

    /** {@link #configJson} read as the engine reads it. */
    public LlamaConfig config(Shape s, DType dtype, int bos, int eos) {
      ObjectNode json = configJson(s, dtype, bos, eos);
      try {
        return HuggingFaceConfig.read(json, Path.of(configName()),
            w -> {
              throw new IllegalStateException(w);
            });
      } catch (ModelFormatException e) {
        throw new IllegalArgumentException(e.getMessage(), e);
      }
    }
  }

  /**
   * A tensor of the requested shape would take more than 2 GiB in the requested dtype (safetensors
   * tensors are written through one array). The message names the tensor and says which settings
   * shrink it; {@link #describe} lets a command line name its flags instead.
   */
  public static final class TensorTooLargeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String tensor;
    private final long bytes;
    private final String dtype;

    TensorTooLargeException(String tensor, long bytes, String dtype) {
      super(describe(tensor, bytes, dtype, "use f16 or bf16, or a smaller vocabulary or dimension"));
      this.tensor = tensor;
      this.bytes = bytes;
      this.dtype = dtype;
    }

    /** The tensor's name and shape (e.g. "model.embed_tokens.weight [152064, 4096]"). */
    public String tensor() {
      return tensor;
    }

    /** Its size in the requested dtype. */
    public long bytes() {
      return bytes;
    }

    /** The message with {@code remedy} as what shrinks the tensor (e.g. a command line's flags). */
    public String describe(String remedy) {
      return describe(tensor, bytes, dtype, remedy);
    }

    private static String describe(String tensor, long bytes, String dtype, String remedy) {
      return "tensor " + tensor + " would take " + bytes + " bytes in " + dtype + "; a synthetic "
          + "model's tensors are at most 2 GiB (" + remedy + ")";
    }
  }

  static String dtypeName(DType dtype) {
    return switch (dtype) {
      case F16 -> "float16";
      case BF16 -> "bfloat16";
      case F32 -> "float32";
      default -> throw new IllegalArgumentException("dtype " + dtype + " must be f16, bf16 or f32");
    };
  }

  /** Writes a model with the byte-level llama2.c tokenizer (none when the vocabulary is under 259). */
  public static void write(Path out, LlamaConfig c, DType dtype, long seed, Progress progress)
      throws IOException {
    write(out, c, dtype, seed, null, progress);
  }

  /**
   * Writes a model of config {@code c} into the folder {@code out} (created; it must be new or
   * empty). {@code tokenizer}: a tokenizer file to copy with its companion files ({@link
   * Tokenizer#companionFiles}), or null for the byte-level llama2.c tokenizer. config.json is written
   * last, so that an interrupted run leaves no folder that loads as a model.
   *
   * @throws IllegalArgumentException for a dtype other than f16/bf16/f32, an {@code out} that is not
   *     empty, a tokenizer with more tokens than the vocabulary, or a tensor of more
   *     than 2 GiB
   * @throws ModelFormatException for a tokenizer file that cannot be read
   */
  public static void write(Path out, LlamaConfig c, DType dtype, long seed, Path tokenizer,
      Progress progress) throws IOException {
    String dtypeName = dtypeName(dtype);
    refuseTokenizerFiles(out); // the specific reason first, then any other file
    OutputFolders.requireEmpty(out);
    List<Path> companions = List.of();
    if (tokenizer != null) {
      int tokens = Tokenizer.load(tokenizer).vocabSize();
      if (tokens > c.vocabSize()) {
        throw new IllegalArgumentException("tokenizer " + tokenizer + " has " + tokens + " tokens, more "
            + "than the model's vocabulary of " + c.vocabSize() + " (vocab_size must be at least "
            + tokens + ")");
      }
      companions = Tokenizer.companionFiles(tokenizer);
    }
    List<FileTensor> tensors = tensors(c);
    for (FileTensor t : tensors) {
      long bytes = t.elements() * dtype.byteSize();
      if (bytes > Integer.MAX_VALUE) {
        throw new TensorTooLargeException(t.name() + " " + java.util.Arrays.toString(t.shape()),
            bytes, dtypeName);
      }
    }
    OutputFolders.createEmpty(out, out);
    try (SafetensorsWriter w = SafetensorsWriter.create(out.resolve("model.safetensors"),
        Map.of("format", "pt", "generator", "quipsharp synth-model seed " + seed))) {
      for (int i = 0; i < tensors.size(); i++) {
        FileTensor t = tensors.get(i);
        w.add(t.name(), dtype, t.shape(), values(t, dtype, seed, c.options().normUnitOffset()));
        if (progress != null) {
          progress.tensorWritten(t.name(), i + 1, tensors.size());
        }
      }
      w.commit();
    }
    if (tokenizer != null) {
      // Under the name Tokenizer.forModel looks for first, whatever the source file is called.
      boolean json = tokenizer.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".json");
      AtomicFiles.copy(tokenizer, out.resolve(json ? "tokenizer.json" : "tokenizer.bin"));
      for (Path companion : companions) {
        AtomicFiles.copy(companion, out.resolve(companion.getFileName()));
      }
    } else if (c.vocabSize() >= 259) {
      AtomicFiles.write(out.resolve("tokenizer.bin"), byteTokenizer(c.vocabSize()));
    }
    AtomicFiles.write(out.resolve("config.json"),
        JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(configFile(c, dtypeName)));
  }

  /**
   * Refuses a folder that holds files a tokenizer search would find or a tokenizer copy would
   * overwrite: the new model would be read with an unrelated tokenizer.
   */
  private static void refuseTokenizerFiles(Path out) throws IOException {
    if (!Files.isDirectory(out)) {
      return;
    }
    List<String> found = new ArrayList<>();
    try (var entries = Files.list(out)) {
      entries.map(p -> p.getFileName().toString()).filter(n -> n.equals("tokenizer.json")
          || n.equals("tokenizer.bin") || (n.startsWith("tok") && n.endsWith(".bin"))
          || TOKENIZER_COMPANIONS.contains(n)).sorted().forEach(found::add);
    }
    if (!found.isEmpty()) {
      throw new OutputFolderException(out.toString(),
          OutputFolderException.Problem.HOLDS_TOKENIZER_FILES, found, null, null);
    }
  }

  private static final java.util.Set<String> TOKENIZER_COMPANIONS = java.util.Set.of(
      "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json");

  /**
   * config.json: the config's Hugging Face keys, the dtype and Phi-3's pad id; the quipsharp section only where
   * the plain keys would read back differently (llama2.c RoPE order).
   */
  private static ObjectNode configFile(LlamaConfig c, String dtypeName) {
    ObjectNode json = HuggingFaceConfig.toJson(c).put("torch_dtype", dtypeName);
    if (c.family() == ModelFamily.PHI3) {
      // Phi3Config's default pad id is 32000 (<|endoftext|>), an embedding row that a smaller
      // vocabulary lacks: transformers then refuses the model.
      if (c.vocabSize() > 32000) {
        json.put("pad_token_id", 32000);
      } else {
        json.putNull("pad_token_id");
      }
    }
    ObjectNode plain = json.deepCopy();
    plain.remove("quipsharp");
    LlamaConfig back = HuggingFaceConfig.read(plain, Path.of("config.json"), w -> { });
    return back.equals(c) ? plain : json;
  }

  /** A tensor of the file: name, shape and the index of its random stream. */
  private record FileTensor(String name, long[] shape, WeightSpec.Role role, int stream) {
    long elements() {
      long n = 1;
      for (long d : shape) {
        n *= d;
      }
      return n;
    }
  }

  /**
   * The file's tensors: {@link WeightSpec#all} (stream = its index there, so that a Llama model is
   * the same as before families existed), with the parts of fused tensors replaced by the fused
   * tensor (stream of its first part).
   */
  private static List<FileTensor> tensors(LlamaConfig c) {
    List<WeightSpec> specs = WeightSpec.all(c);
    Map<String, WeightSpec.FusedTensor> fusedByFirst = new java.util.HashMap<>();
    java.util.Set<String> parts = new java.util.HashSet<>();
    for (WeightSpec.FusedTensor f : WeightSpec.fused(c)) {
      fusedByFirst.put(f.parts().get(0), f);
      parts.addAll(f.parts());
    }
    List<FileTensor> out = new ArrayList<>();
    for (int i = 0; i < specs.size(); i++) {
      WeightSpec s = specs.get(i);
      WeightSpec.FusedTensor f = fusedByFirst.get(s.name());
      if (f != null) {
        out.add(new FileTensor(f.name(), f.shape(), s.role(), i));
      } else if (!parts.contains(s.name())) {
        out.add(new FileTensor(s.name(), s.shape(), s.role(), i));
      }
    }
    return out;
  }

  /** Gaussian values (Box-Muller, two per pair of uniforms), or the norm's constant. */
  private static ByteBuffer values(FileTensor t, DType dtype, long seed, boolean unitOffsetNorms) {
    long count = t.elements();
    ByteBuffer b = ByteBuffer.allocateDirect(Math.toIntExact(count * dtype.byteSize()))
        .order(ByteOrder.LITTLE_ENDIAN);
    boolean norm = t.role().isNorm();
    float constant = unitOffsetNorms ? 0f : 1f; // Gemma stores w of the scale 1 + w
    SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + t.stream());
    for (long k = 0; k < count; k += 2) {
      double u = 1.0 - rnd.nextDouble();
      double v = rnd.nextDouble();
      double r = Math.sqrt(-2 * Math.log(u)) * WEIGHT_SD;
      put(b, dtype, k, norm ? constant : (float) (r * Math.cos(2 * Math.PI * v)));
      if (k + 1 < count) {
        put(b, dtype, k + 1, norm ? constant : (float) (r * Math.sin(2 * Math.PI * v)));
      }
    }
    return b;
  }

  private static void put(ByteBuffer b, DType dtype, long index, float v) {
    int i = (int) index;
    switch (dtype) {
      case F32 -> b.putFloat(4 * i, v);
      case F16 -> b.putShort(2 * i, HalfFloat.fromFloat(v));
      default -> b.putShort(2 * i, HalfFloat.bf16FromFloat(v));
    }
  }

  /** A llama2.c tokenizer of exactly {@code vocab} tokens (vocab >= 259). */
  static byte[] byteTokenizer(int vocab) {
    List<String> pieces = new ArrayList<>();
    pieces.add("<unk>");
    pieces.add("\n<s>\n");
    pieces.add("\n</s>\n");
    for (int b = 0; b < 256; b++) {
      pieces.add(String.format("<0x%02X>", b));
    }
    for (char ch = 32; ch < 127 && pieces.size() < vocab; ch++) {
      pieces.add(String.valueOf(ch));
    }
    String letters = " etaoinshrdlucmfwypvbgkqjxz";
    outer:
    for (int a = 0; a < letters.length(); a++) {
      for (int z = 0; z < letters.length(); z++) {
        if (pieces.size() >= vocab) {
          break outer;
        }
        pieces.add("" + letters.charAt(a) + letters.charAt(z));
      }
    }
    for (int k = 0; pieces.size() < vocab; k++) {
      pieces.add("<extra_" + k + ">");
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int maxLen = 0;
    for (String p : pieces) {
      maxLen = Math.max(maxLen, p.getBytes(StandardCharsets.UTF_8).length);
    }
    ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(maxLen);
    bytes.writeBytes(head.array());
    for (int id = 0; id < pieces.size(); id++) {
      byte[] s = pieces.get(id).getBytes(StandardCharsets.UTF_8);
      // Longer pieces merge first: score = length, then earlier ids.
      float score = id < 259 ? 0f : s.length * 1000f - id;
      ByteBuffer e = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      e.putFloat(score).putInt(s.length);
      bytes.writeBytes(e.array());
      bytes.writeBytes(s);
    }
    return bytes.toByteArray();
  }
}
