package org.arunet.train;

import java.nio.file.Path;
import java.util.List;

/**
 * Outcome of {@link Trainer#fit()}.
 *
 * @param history every epoch so far (including those before a resume)
 * @param bestEpoch epoch with the lowest validation loss (-1 without validation data)
 * @param bestValLoss that loss
 * @param stoppedEarly whether early stopping ended training
 * @param lastCheckpoint path of the last checkpoint (null without a checkpoint folder)
 * @param bestCheckpoint path of the best checkpoint (null without one)
 */
public record TrainingResult(
        List<EpochSummary> history,
        int bestEpoch,
        double bestValLoss,
        boolean stoppedEarly,
        Path lastCheckpoint,
        Path bestCheckpoint) {}
