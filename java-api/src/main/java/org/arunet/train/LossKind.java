package org.arunet.train;

/** Training losses. */
public enum LossKind {
    /** Cross-entropy (mean over pixels) + soft Dice loss (pooled over the batch, mean over classes): the paper's. */
    CE_DICE,
    /**
     * Focal Tversky loss (Abraham and Khan 2019), pooled over the batch and averaged over classes:
     * {@code mean_c (1 - TI_c)^gamma}, {@code TI_c = (TP + s) / (TP + alpha FN + beta FP + s)}.
     */
    FOCAL_TVERSKY
}
