package org.arunet.train;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Training hyper-parameters (immutable). Defaults reproduce the paper's protocol, with the authors'
 * code for what the paper leaves out (../shared/docs/ARU-NET.md).
 *
 * @param epochs maximum number of epochs (150, authors' code)
 * @param batchSize images per step (2, paper)
 * @param learningRate peak Adam learning rate (1e-4, paper)
 * @param minLearningRate floor of the cosine schedule (1e-6, authors' code)
 * @param warmupEpochs quadratic warm-up from {@code warmupStartFactor x learningRate} (3 epochs, 0.1)
 * @param warmupStartFactor see warmupEpochs
 * @param finalEpochsAtMin epochs held at minLearningRate at the end (-1: 5 % of epochs, i.e. 7-8 of 150)
 * @param loss CE + Dice (paper) or focal Tversky
 * @param ceWeight weight of cross-entropy in CE + Dice (1)
 * @param diceWeight weight of Dice in CE + Dice (1)
 * @param tverskyAlpha weight of false negatives in focal Tversky (0.7)
 * @param tverskyBeta weight of false positives in focal Tversky (0.3)
 * @param tverskyGamma focal exponent in focal Tversky (0.75)
 * @param patience early stopping: epochs without a validation-loss improvement (15, paper); 0 disables
 * @param minDelta smallest decrease of validation loss that counts as an improvement (0)
 * @param weightDecay Adam L2 weight decay (0, authors' code)
 * @param beta1 Adam beta1 (0.9)
 * @param beta2 Adam beta2 (0.999)
 * @param adamEps Adam epsilon (1e-8)
 */
public record TrainerConfig(
        int epochs,
        int batchSize,
        float learningRate,
        float minLearningRate,
        int warmupEpochs,
        float warmupStartFactor,
        int finalEpochsAtMin,
        LossKind loss,
        float ceWeight,
        float diceWeight,
        float tverskyAlpha,
        float tverskyBeta,
        float tverskyGamma,
        int patience,
        double minDelta,
        float weightDecay,
        float beta1,
        float beta2,
        float adamEps) {

    public TrainerConfig {
        require(epochs >= 1, "epochs must be >= 1, got " + epochs);
        require(batchSize >= 1, "batch size must be >= 1, got " + batchSize);
        require(learningRate > 0 && Float.isFinite(learningRate), "learning rate must be > 0, got " + learningRate);
        require(
                minLearningRate >= 0 && minLearningRate <= learningRate,
                "min learning rate must be within [0, learning rate], got " + minLearningRate);
        require(warmupEpochs >= 0, "warm-up epochs must be >= 0, got " + warmupEpochs);
        require(warmupStartFactor > 0 && warmupStartFactor <= 1, "warm-up start factor must be in (0, 1]");
        require(loss != null, "loss must be set");
        require(ceWeight >= 0 && diceWeight >= 0 && ceWeight + diceWeight > 0, "loss weights must be >= 0, not both 0");
        require(tverskyAlpha >= 0 && tverskyBeta >= 0 && tverskyGamma > 0, "Tversky alpha, beta >= 0, gamma > 0");
        require(patience >= 0, "patience must be >= 0, got " + patience);
        require(minDelta >= 0, "min delta must be >= 0, got " + minDelta);
        require(weightDecay >= 0, "weight decay must be >= 0");
    }

    private static void require(boolean ok, String msg) {
        if (!ok) {
            throw new IllegalArgumentException("TrainerConfig: " + msg);
        }
    }

    /** The paper's protocol (authors' code for details the paper omits). */
    public static TrainerConfig paper() {
        return new TrainerConfig(
                150,
                2,
                1e-4f,
                1e-6f,
                3,
                0.1f,
                -1,
                LossKind.CE_DICE,
                1f,
                1f,
                0.7f,
                0.3f,
                0.75f,
                15,
                0.0,
                0f,
                0.9f,
                0.999f,
                1e-8f);
    }

    /** Epochs held at the minimum learning rate at the end. */
    public int flatEpochs() {
        int f = finalEpochsAtMin >= 0 ? finalEpochsAtMin : (int) Math.round(0.05 * epochs);
        return Math.max(0, Math.min(f, epochs - warmupEpochs - 1));
    }

    /**
     * Learning rate of an epoch (0-based), set once per epoch as the authors' code does: quadratic
     * warm-up from {@code warmupStartFactor x lr} to lr over {@code warmupEpochs}, cosine annealing
     * to {@code minLearningRate}, then {@code flatEpochs()} at the minimum.
     */
    public float learningRateAt(int epoch) {
        if (epoch < warmupEpochs) {
            double t = (double) epoch / warmupEpochs;
            return (float) (learningRate * (warmupStartFactor + (1 - warmupStartFactor) * t * t));
        }
        int cosineEpochs = epochs - warmupEpochs - flatEpochs();
        int e = epoch - warmupEpochs;
        if (e >= cosineEpochs || cosineEpochs <= 1) {
            return cosineEpochs <= 1 && e == 0 ? learningRate : minLearningRate;
        }
        double t = (double) e / (cosineEpochs - 1);
        return (float) (minLearningRate + (learningRate - minLearningRate) * 0.5 * (1 + Math.cos(Math.PI * t)));
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("epochs", epochs);
        m.put("batch_size", batchSize);
        m.put("learning_rate", learningRate);
        m.put("min_learning_rate", minLearningRate);
        m.put("warmup_epochs", warmupEpochs);
        m.put("warmup_start_factor", warmupStartFactor);
        m.put("final_epochs_at_min", finalEpochsAtMin);
        m.put("loss", loss.name().toLowerCase());
        m.put("ce_weight", ceWeight);
        m.put("dice_weight", diceWeight);
        m.put("tversky_alpha", tverskyAlpha);
        m.put("tversky_beta", tverskyBeta);
        m.put("tversky_gamma", tverskyGamma);
        m.put("patience", patience);
        m.put("min_delta", minDelta);
        m.put("weight_decay", weightDecay);
        m.put("beta1", beta1);
        m.put("beta2", beta2);
        m.put("adam_eps", adamEps);
        return m;
    }

    public TrainerConfig withEpochs(int v) {
        return new TrainerConfig(
                v,
                batchSize,
                learningRate,
                minLearningRate,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withBatchSize(int v) {
        return new TrainerConfig(
                epochs,
                v,
                learningRate,
                minLearningRate,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withLearningRate(float v) {
        return new TrainerConfig(
                epochs,
                batchSize,
                v,
                Math.min(minLearningRate, v),
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withMinLearningRate(float v) {
        return new TrainerConfig(
                epochs,
                batchSize,
                learningRate,
                v,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withWarmupEpochs(int v) {
        return new TrainerConfig(
                epochs,
                batchSize,
                learningRate,
                minLearningRate,
                v,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withLoss(LossKind v) {
        return new TrainerConfig(
                epochs,
                batchSize,
                learningRate,
                minLearningRate,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                v,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withTversky(float alpha, float beta, float gamma) {
        return new TrainerConfig(
                epochs,
                batchSize,
                learningRate,
                minLearningRate,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                alpha,
                beta,
                gamma,
                patience,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withPatience(int v) {
        return new TrainerConfig(
                epochs,
                batchSize,
                learningRate,
                minLearningRate,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                v,
                minDelta,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }

    public TrainerConfig withMinDelta(double v) {
        return new TrainerConfig(
                epochs,
                batchSize,
                learningRate,
                minLearningRate,
                warmupEpochs,
                warmupStartFactor,
                finalEpochsAtMin,
                loss,
                ceWeight,
                diceWeight,
                tverskyAlpha,
                tverskyBeta,
                tverskyGamma,
                patience,
                v,
                weightDecay,
                beta1,
                beta2,
                adamEps);
    }
}
