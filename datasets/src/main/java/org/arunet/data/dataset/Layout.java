package org.arunet.data.dataset;

/** How image/mask pairs are arranged on disk; see {@link Datasets#scan}. */
public enum Layout {
    /**
     * {@code images/} and {@code masks/} folders whose files match by relative path without extension
     * ({@code images/benign_001.png} with {@code masks/benign_001.png}; class subfolders allowed:
     * {@code images/benign/x.jpg} with {@code masks/benign/x.png}). The shared BUSI copy uses it.
     */
    PAIRED_FOLDERS,
    /**
     * The original BUSI release: one folder per class holding {@code name.png}, {@code name_mask.png}
     * and optional {@code name_mask_1.png}, {@code name_mask_2.png} (merged by OR).
     */
    BUSI_ORIGINAL,
    /**
     * A CSV manifest with a header row naming the columns {@code image} and {@code mask} (required),
     * {@code group} and {@code class} (optional); paths relative to the CSV's folder; several masks of
     * one image separated by {@code ;}.
     */
    CSV,
    /** Samples given one by one through {@link Datasets#builder}. */
    EXPLICIT
}
