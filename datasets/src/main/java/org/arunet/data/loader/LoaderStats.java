package org.arunet.data.loader;

/**
 * How long the consumer of a {@link SegmentationBatchSource} waited in {@code Iterator.next()}.
 * The first batch of an epoch cannot be loaded ahead (the epoch starts when it is asked for), so its
 * wait is counted apart from the steady state.
 *
 * @param batches batches delivered
 * @param firstBatchWaitNanos total wait for the first batch of each epoch
 * @param steadyBatches batches after the first of their epoch
 * @param steadyWaitNanos total wait for those
 * @param maxSteadyWaitNanos longest single wait for one of those
 */
public record LoaderStats(
        long batches, long firstBatchWaitNanos, long steadyBatches, long steadyWaitNanos, long maxSteadyWaitNanos) {
    /** Mean steady-state wait per batch in milliseconds (0 when there was none). */
    public double meanSteadyWaitMillis() {
        return steadyBatches == 0 ? 0 : steadyWaitNanos / 1e6 / steadyBatches;
    }

    @Override
    public String toString() {
        return String.format(
                java.util.Locale.ROOT,
                "%d batches; steady state: mean wait %.3f ms, max %.3f ms over %d "
                        + "batches; first batches: %.1f ms in total",
                batches,
                meanSteadyWaitMillis(),
                maxSteadyWaitNanos / 1e6,
                steadyBatches,
                firstBatchWaitNanos / 1e6);
    }
}
