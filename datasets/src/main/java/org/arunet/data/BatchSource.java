package org.arunet.data;

import java.util.Iterator;

/**
 * A set of image/mask samples that delivers them as batches for one epoch at a time. The trainer
 * consumes it; the {@code datasets} module implements it (file layouts, decoding, augmentation in
 * background threads).
 *
 * <p>Determinism contract: the order of items and every random augmentation of epoch {@code e}
 * depend only on the source's seed and {@code e}, never on thread timing or on earlier epochs having
 * run, so that a run resumed at epoch e reproduces an uninterrupted one.
 */
public interface BatchSource extends AutoCloseable {
    /** Number of samples. */
    int size();

    int channels();

    /** Side length of the square images the batches hold. */
    int imageSize();

    /** Number of classes the masks use (2 for background / lesion). */
    int classes();

    /**
     * The batches of epoch {@code epoch}: all samples once, shuffled when {@code train} is true (and
     * augmented if the source was built with augmentation), in file order otherwise. The last batch
     * may be smaller. Loading runs ahead in background threads.
     */
    Iterator<Batch> epoch(int epoch, int batchSize, boolean train);

    /**
     * How images were turned into inputs, as string pairs for checkpoints (see
     * {@link org.arunet.data.loader.Preprocessing}); empty when unknown.
     */
    default java.util.Map<String, String> preprocessing() {
        return java.util.Map.of();
    }

    @Override
    void close();
}
