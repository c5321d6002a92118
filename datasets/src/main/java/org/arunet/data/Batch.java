package org.arunet.data;

import java.util.List;

/**
 * One mini-batch, ready to copy into tensors: images NHWC float32 (already normalised), masks
 * {@code [N, H, W]} class indices. The arrays may come from a pool and be reused: call
 * {@link #close()} when done with them, after which they must not be read.
 */
public interface Batch extends AutoCloseable {
    /** Images, NHWC, length {@code size() * height() * width() * channels()}. */
    float[] images();

    /** Class-index masks, length {@code size() * height() * width()}; values in {@code [0, classes)}. */
    int[] masks();

    int size();

    int height();

    int width();

    int channels();

    /** Identifier of each item (usually the image file's path relative to the dataset root). */
    List<String> ids();

    /** Returns the arrays to their pool. */
    @Override
    void close();
}
