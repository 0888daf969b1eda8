package io.github.quipsharp.finetune;

/**
 * One epoch of a fine-tuning run: epoch 0 is the state before training (train loss NaN); the
 * mean training loss, the validation loss after the epoch and its wall time.
 */
public record TuningEpoch(int epoch, double train, double valid, double seconds) {}
