package org.arunet.train;

/** Receives training progress; every method has an empty default. Called on the training thread. */
public interface TrainingListener {
    /** Before the first epoch run by this call of {@link Trainer#fit()} ({@code startEpoch} > 0 on resume). */
    default void onStart(int startEpoch, int epochs, int batchesPerEpoch) {}

    /** After each optimizer step. */
    default void onBatch(int epoch, int batch, int batches, double loss, double imagesPerSecond) {}

    /** After each epoch's validation and checkpoint. */
    default void onEpoch(EpochSummary summary) {}

    /** Once at the end, also after early stopping. */
    default void onFinish(TrainingResult result) {}
}
