package org.arunet.data.split;

/**
 * Samples of one class in each part of a split.
 *
 * @param train training samples
 * @param val validation samples
 * @param test test samples
 */
public record SplitCounts(int train, int val, int test) {
    public int total() {
        return train + val + test;
    }

    @Override
    public String toString() {
        return train + "/" + val + "/" + test;
    }
}
