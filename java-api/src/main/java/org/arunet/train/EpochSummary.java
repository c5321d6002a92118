package org.arunet.train;

/**
 * What one epoch did.
 *
 * @param epoch 0-based epoch
 * @param learningRate learning rate used
 * @param trainLoss mean training loss over the epoch's images
 * @param valLoss mean validation loss (NaN without validation data)
 * @param valDice mean lesion Dice over validation images (NaN without validation data)
 * @param valIou mean lesion IoU over validation images
 * @param seconds wall time of the epoch (training and validation)
 * @param imagesPerSecond training throughput
 * @param dataWaitSeconds time the trainer waited for batches from the loader
 * @param improved whether validation loss improved (the best checkpoint was written)
 * @param etaSeconds estimated time for the remaining epochs
 */
public record EpochSummary(
        int epoch,
        float learningRate,
        double trainLoss,
        double valLoss,
        double valDice,
        double valIou,
        double seconds,
        double imagesPerSecond,
        double dataWaitSeconds,
        boolean improved,
        double etaSeconds) {}
