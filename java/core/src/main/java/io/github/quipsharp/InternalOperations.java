package io.github.quipsharp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.quipsharp.internal.BlockTuner;
import io.github.quipsharp.internal.CoreInternals;
import io.github.quipsharp.internal.QuantizedGroup;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

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
  public LlamaModel.HessianSum hessian(LlamaModel model, int layer, LinearGroup group) {
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
}
