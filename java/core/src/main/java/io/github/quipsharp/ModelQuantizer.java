package io.github.quipsharp;

import io.github.quipsharp.internal.Checks;
import io.github.quipsharp.internal.OutputFolders;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.QuantizationRun;
import io.github.quipsharp.pipeline.RunLayout;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Whole-model QuIP# quantization (QUIPSHARP.md §1): Hessians of every linear group's input from the
 * fp model on calibration windows (§1.2), then every group of every block through {@link Quantizer}
 * (q,k,v and up,gate stacked after row normalization, §1.4), embeddings, norms and the output layer
 * kept in fp16. Each finished piece is written under {@code out/.partial/} (Hessians, then one shard
 * per layer group) so that an interrupted run resumes where it stopped and assembles a checkpoint
 * identical to an uninterrupted run; the checkpoint appears only when complete. The work is done
 * by the pipeline ({@code io.github.quipsharp.pipeline}) that the Spark driver shares.
 */
public final class ModelQuantizer {
  /** The folder under {@code out} that holds an unfinished run (run.json, hessians/, layers/). */
  public static final String PARTIAL = RunLayout.PARTIAL;

  private ModelQuantizer() {}

  /**
   * Settings of a run beyond the per-matrix {@link QuantConfig}; build with {@link #builder()}.
   *
   * @param ctx tokens per calibration window (at least 2)
   * @param samples calibration windows to use (0: all that fit)
   * @param resume continue an interrupted run in the output folder
   * @param listener progress reports (never null; {@link ProgressListener#NONE} when not given)
   * @param tuner fine-tuning between the groups of a layer (quipsharp-finetune's {@code
   *     BlockwiseTuner}), or null for none
   * @param allowLongerContext accept a {@code ctx} beyond the model's context length
   *     (max_position_embeddings), which it was never trained for; refused otherwise
   */
  public record Options(int ctx, int samples, boolean resume, ProgressListener listener,
      QuantizationTuner tuner, boolean allowLongerContext) {
    public Options {
      if (ctx < 2) {
        throw new IllegalArgumentException("ctx = " + ctx + " must be at least 2");
      }
      if (samples < 0) {
        throw new IllegalArgumentException("samples = " + samples + " must be >= 0 (0 = all)");
      }
      listener = listener == null ? ProgressListener.NONE : listener;
      if (tuner != null && tuner.hook() == null) {
        throw new IllegalArgumentException("tuner " + tuner.getClass().getName()
            + " has no tuning attached: use quipsharp-finetune's BlockwiseTuner");
      }
    }

    /** 256-token windows, all of them, no resume, no tuning. */
    public static Options defaults() {
      return builder().build();
    }

    public static Builder builder() {
      return new Builder();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
      return new Builder().ctx(ctx).samples(samples).resume(resume).listener(listener).tuner(tuner)
          .allowLongerContext(allowLongerContext);
    }

    /** The same settings with blockwise fine-tuning by {@code tuner} (null: none). */
    public Options withTuner(QuantizationTuner tuner) {
      return toBuilder().tuner(tuner).build();
    }

    /** The same settings reporting to {@code listener}. */
    public Options withListener(ProgressListener listener) {
      return toBuilder().listener(listener).build();
    }

    /** Builds {@link Options}; every setting starts at its default ({@link #defaults()}). */
    public static final class Builder {
      private int ctx = 256;
      private int samples;
      private boolean resume;
      private ProgressListener listener = ProgressListener.NONE;
      private QuantizationTuner tuner;
      private boolean allowLongerContext;

      private Builder() {}

      /** Tokens per calibration window (default 256). */
      public Builder ctx(int ctx) {
        this.ctx = ctx;
        return this;
      }

      /** Calibration windows to use, 0 for all that fit (default 0). */
      public Builder samples(int samples) {
        this.samples = samples;
        return this;
      }

      /** Continue an interrupted run in the output folder (default false). */
      public Builder resume(boolean resume) {
        this.resume = resume;
        return this;
      }

      /** Progress reports (default none). */
      public Builder listener(ProgressListener listener) {
        this.listener = listener;
        return this;
      }

      /** Blockwise fine-tuning (default null: none). */
      public Builder tuner(QuantizationTuner tuner) {
        this.tuner = tuner;
        return this;
      }

      /** Accept windows beyond the model's context length (default false). */
      public Builder allowLongerContext(boolean allow) {
        this.allowLongerContext = allow;
        return this;
      }

      /**
       * @throws IllegalArgumentException for a ctx under 2, negative samples, or a tuner with no
       *     tuning attached
       */
      public Options build() {
        return new Options(ctx, samples, resume, listener, tuner, allowLongerContext);
      }
    }
  }

  /**
   * Quantizes the model at {@code modelPath} with Hessians from {@code calibration} (token ids; cut
   * into windows of {@code ctx} tokens, each run from position 0) and writes the checkpoint folder
   * {@code out}. Returns what was done.
   *
   * <p>Everything that can be refused is checked before the first listener call: the model, the
   * context length, the output folder, a resumed run's settings and model files, and that the
   * tensors kept in fp16 fit it. A run that then fails before its first layer group is written
   * removes what it created; one that fails later keeps {@code out/.partial}, which {@code resume}
   * continues (or deleting {@code out} starts over).
   *
   * @throws IllegalArgumentException if the calibration tokens do not fill one window
   * @throws ContextTooLongException if ctx exceeds the model's context length (unless allowed)
   * @throws OutputFolderException if {@code out} is a file or a folder that is not empty
   * @throws InterruptedRunException if {@code out} holds an interrupted run and resume is off
   * @throws ResumeMismatchException if the interrupted run has other settings or another model
   * @throws ModelFormatException for a bad model, or a tensor kept in fp16 that does not fit it
   * @throws NonFiniteActivationException when the model's activations overflow on the calibration
   *     text (naming the first layer where they do)
   */
  public static QuantizationInfo quantize(
      Path modelPath, int[] calibration, QuantConfig cfg, Path out, Options opt) {
    Checks.notNull(modelPath, "modelPath");
    Checks.notNull(calibration, "calibration");
    Checks.notNull(cfg, "cfg");
    Checks.notNull(out, "out");
    Checks.notNull(opt, "opt");
    int windows = RunLayout.windows(calibration.length, opt.ctx(), opt.samples());
    try (ModelSource src = ModelSource.open(modelPath)) {
      ContextTooLongException.require(src.config(), opt.ctx(), opt.allowLongerContext());
      return new QuantizationRun(src, calibration, opt.ctx(), windows, cfg, new RunLayout(out),
          opt.tuner() != null ? opt.tuner().hook() : null, opt.listener()).run(opt.resume());
    } catch (IOException e) {
      throw new UncheckedIOException(OutputFolders.describe("cannot write " + out, e), e);
    }
  }
}
