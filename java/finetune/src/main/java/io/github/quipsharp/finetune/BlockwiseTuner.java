package io.github.quipsharp.finetune;

import com.fasterxml.jackson.databind.JsonNode;
import io.github.quipsharp.BlockTuner;
import io.github.quipsharp.LayerState;
import io.github.quipsharp.LinearGroup;
import io.github.quipsharp.ProgressListener;
import io.github.quipsharp.model.ModelSource;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Blockwise fine-tuning over libtorch (QUIPSHARP.md §6.2), plugged into
 * {@link io.github.quipsharp.ModelQuantizer} through {@link BlockTuner}: the inputs X of block l
 * are the fp model's hidden states on the calibration windows, the targets Y the fp block's
 * outputs; after qkv, o and up are quantized, the block (SU/SV of its quantized groups, weights of
 * the others, both norms) is trained on MSE(block(X), Y) with a validation split, early stopping
 * and the best state kept.
 */
public final class BlockwiseTuner implements BlockTuner {
  private final FineTuneOptions opt;
  private ModelSource src;
  private Windows windows;
  private Tensor x; // inputs of block xLayer, [N, T, dim]
  private int xLayer = -1;
  private Tensor y; // fp outputs of block xLayer
  private double seconds;

  public BlockwiseTuner(FineTuneOptions opt) {
    this.opt = opt;
    Torch.load();
  }

  @Override
  public JsonNode settings() {
    return opt.toJson();
  }

  /** Seconds spent tuning so far. */
  public double seconds() {
    return seconds;
  }

  @Override
  public void start(ModelSource source, int[] calibration, int ctx, int available,
      ProgressListener listener) {
    this.src = source;
    Torch.applyThreads(source.config().dim());
    this.windows = Windows.of(calibration, ctx, available, opt);
    listener.info("blockwise fine-tuning on " + windows.train().length + " windows, validating on "
        + windows.valid().length);
  }

  /** Moves the activations forward through the fp blocks until they enter {@code layer}. */
  private void advanceTo(int layer) {
    if (xLayer < 0) {
      try (NoGradGuard ng = new NoGradGuard()) {
        Tensor embed = Torch.of(src.tensor("model.embed_tokens.weight"), ScalarType.Float);
        int[] all = java.util.stream.IntStream.range(0, windows.tokens().length).toArray();
        x = torch.embedding(embed, windows.batch(all));
      }
      xLayer = 0;
      y = null;
    }
    if (layer < xLayer) {
      throw new IllegalStateException("layer " + layer + " comes after layer " + xLayer);
    }
    while (xLayer < layer || y == null) {
      Tensor out;
      try (PointerScope scope = new PointerScope()) {
        TorchLlama.Block fp = TorchLlama.Block.fromSource(src, xLayer, ScalarType.Float);
        out = run(fp, x);
        out.retainReference(); // outlives the scope; released when replaced
      }
      if (xLayer < layer) {
        release(x);
        release(y);
        x = out;
        xLayer++;
        y = null; // the targets of the new layer are computed next
      } else {
        y = out;
      }
    }
  }

  /** Frees a tensor now rather than at some later garbage collection. */
  private static void release(Tensor t) {
    if (t != null) {
      t.releaseReference();
    }
  }

  /** A block over all windows in batches, without gradients. */
  private Tensor run(TorchLlama.Block b, Tensor in) {
    TorchLlama.Rope rope = new TorchLlama.Rope(b.config, ScalarType.Float);
    long n = in.size(0);
    Tensor[] parts = new Tensor[(int) ((n + opt.batch() - 1) / opt.batch())];
    try (NoGradGuard ng = new NoGradGuard()) {
      for (int i = 0; i < parts.length; i++) {
        long from = (long) i * opt.batch();
        try (PointerScope scope = new PointerScope()) { // the batch's temporaries go at once
          parts[i] = b.forward(in.narrow(0, from, Math.min(opt.batch(), n - from)), rope);
          parts[i].retainReference();
        }
      }
      Tensor out = torch.cat(new TensorVector(parts), 0);
      for (Tensor p : parts) {
        p.releaseReference();
      }
      return out;
    }
  }

  @Override
  public void tune(LayerState state, LinearGroup justQuantized, ProgressListener listener) {
    long start = System.nanoTime();
    advanceTo(state.layer());
    // Everything of this tuning (block copy, optimiser, snapshots) is freed when it ends.
    try (PointerScope scope = new PointerScope()) {
      tuneBlock(state, justQuantized, listener);
    }
    seconds += (System.nanoTime() - start) / 1e9;
  }

  private void tuneBlock(LayerState state, LinearGroup justQuantized, ProgressListener listener) {
    TorchLlama.Block block = TorchLlama.Block.fromState(state, ScalarType.Float);
    TorchLlama.Rope rope = new TorchLlama.Rope(state.config(), ScalarType.Float);
    Trainer t = new Trainer(block.params(), opt.settings(state.layer() * 4L + justQuantized.ordinal()));
    String stage = "layer " + state.layer() + " after " + justQuantized.key();
    Trainer.Objective mse = idx -> {
      Tensor sel = Torch.tokens(idx, idx.length);
      return torch.mse_loss(block.forward(x.index_select(0, sel), rope), y.index_select(0, sel));
    };
    try {
      t.run(stage, windows.train(), windows.valid(), mse, listener, null);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (FineTuneException e) {
      throw new FineTuneException(e.getMessage() + ". Quantization stopped; run it again with a "
          + "lower --ft-lr in a new --out (another learning rate cannot --resume this run)", e);
    }
    block.writeBack(state);
  }
}
