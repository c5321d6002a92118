package org.arunet.data.split;

/**
 * How duplicates are found before splitting. Samples linked by any rule end up in one group, and a
 * group is never divided between train, validation and test (links are transitive: union-find).
 *
 * @param exact link images whose decoded grey pixels are identical ({@link PerceptualHash#pixelHash})
 * @param maxDistance link images whose {@link PerceptualHash#phash} differ in at most this many bits;
 *     negative to switch the perceptual rule off
 */
public record Deduplication(boolean exact, int maxDistance) {
    /**
     * 10 of 64 bits. Chosen on BUSI (780 images, 303,810 pairs; the distance is always even because
     * the median splits the 64 coefficients in halves): every pair at distance 8 or less is the same
     * scan (re-saved, re-annotated, shifted by a few pixels); at 10 all but one of 13 pairs are frames
     * of the same lesion (the exception, benign_376 with malignant_062, is harmless: it only binds two
     * images to one split); at 12 most pairs are unrelated images. Pairs below 14 bits make up 0.1 %
     * of all pairs; the bulk lies at 24 to 40.
     */
    public static final int DEFAULT_MAX_DISTANCE = 10;

    public Deduplication {
        if (maxDistance > 64) {
            throw new IllegalArgumentException("maxDistance must be at most 64 bits, got " + maxDistance);
        }
    }

    /** Exact duplicates and perceptual hashes within {@link #DEFAULT_MAX_DISTANCE} bits. */
    public static Deduplication defaults() {
        return new Deduplication(true, DEFAULT_MAX_DISTANCE);
    }

    /** Exact duplicates and perceptual hashes within {@code maxDistance} bits. */
    public static Deduplication perceptual(int maxDistance) {
        return new Deduplication(true, maxDistance);
    }

    /** Exact pixel duplicates only. */
    public static Deduplication exactOnly() {
        return new Deduplication(true, -1);
    }

    /** No duplicate search (explicit CSV groups still apply). Leaks near-duplicates on BUSI. */
    public static Deduplication none() {
        return new Deduplication(false, -1);
    }

    /** Whether any image has to be decoded. */
    public boolean needsPixels() {
        return exact || maxDistance >= 0;
    }
}
