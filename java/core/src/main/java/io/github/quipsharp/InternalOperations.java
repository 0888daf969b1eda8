package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.BlockTuner;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.HessianSum;
import io.github.quipsharp.internal.LayerState;
import io.github.quipsharp.internal.QuantizedGroup;
import io.github.quipsharp.model.ModelSource;
import io.github.quipsharp.pipeline.RunSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The package-private operations of this package that {@link CoreInternals} offers to the other
 * quipsharp modules; installed there when this class is first initialised.
 */
final class InternalOperations implements CoreInternals.Operations {
  static {
    CoreInternals.install(new InternalOperations());
  }

  private InternalOperations() {}

  @Override
  public JsonNode json(QuantizedCheckpoint.Contents in) {
    return in.json();
  }

  @Override
  public QuantizedGroup group(QuantizedCheckpoint.Contents in, int layer, LinearGroup g) {
    return in.group(layer, g);
  }

  @Override
  public void writeTuned(QuantizedCheckpoint.Contents in, Path out, Map<String, float[]> replace,
      ObjectNode finetune) throws IOException {
    QuantizedCheckpoint.writeTuned(in, out, replace, finetune);
  }

  @Override
  public void startHessians(LlamaModel model, int layerBegin, int layerEnd) {
    model.startHessians(layerBegin, layerEnd);
  }

  @Override
  public HessianSum hessian(LlamaModel model, int layer, LinearGroup group) {
    return model.hessian(layer, group);
  }

  @Override
  public void stopHessians(LlamaModel model) {
    model.stopHessians();
  }

  @Override
  public void attachTuner(QuantizationTuner tuner, BlockTuner hook) {
    tuner.attach(hook);
  }

  @Override
  public float[] checkedForward(LlamaModel model, int[] tokens, int startPos, boolean allLogits,
      Supplier<int[]> sequence, String where) {
    return NonFiniteActivationException.checkedForward(model, tokens, startPos, allLogits,
        sequence, where);
  }

  @Override
  public float[] roundF16(float[] values) {
    return QuantizedCheckpoint.roundF16(values);
  }

  @Override
  public void requireF16(float[] values, String what) {
    QuantizedCheckpoint.requireF16(values, what);
  }

  @Override
  public void requireDenseFitF16(ModelSource src) {
    QuantizedCheckpoint.requireDenseFitF16(src);
  }

  @Override
  public String quantConfigJson(QuantConfig c) {
    return QuantizedCheckpoint.quantConfigJson(c);
  }

  @Override
  public void writeShard(Path shard, QuantizedGroup g, LayerReport report) throws IOException {
    QuantizedCheckpoint.writeShard(shard, g, report);
  }

  @Override
  public LayerReport readShardReport(Path shard, int layer, LinearGroup g, QuantConfig cfg) {
    return QuantizedCheckpoint.readShardReport(shard, layer, g, cfg);
  }

  @Override
  public Path normsShard(Path partial, int layer) {
    return QuantizedCheckpoint.normsShard(partial, layer);
  }

  @Override
  public void writeNormsShard(Path partial, int layer, LayerState state) throws IOException {
    QuantizedCheckpoint.writeNormsShard(partial, layer, state);
  }

  @Override
  public void assemble(ModelSource src, QuantizationInfo info, RunSettings settings, Path partial,
      Path out) throws IOException {
    QuantizedCheckpoint.assemble(src, info, settings, partial, out);
  }
}
