package org.arunet.infer;

import java.time.Duration;

/**
 * Options of a {@link SegmentationStream}.
 *
 * @param smoothing weight of the new frame in the exponential moving average of class probabilities
 *     across frames, {@code s_t = a p_t + (1 - a) s_(t-1)}, taken at the model's input size before the
 *     resize to the frame's size; 1 (the default) is no smoothing, so every frame is segmented exactly as
 *     the still-image path would segment it
 * @param maxFps frames are read no faster than this many per second (pacing for live display), 0 = as
 *     fast as the pipeline runs
 * @param queueCapacity frames each stage may hold ready for the next (bounded: a slow consumer slows the
 *     reader instead of filling memory)
 * @param stallTimeout a source that takes longer than this to give one frame is reported as stalled
 *     and the stream ends with an error
 */
public record StreamOptions(double smoothing, double maxFps, int queueCapacity, Duration stallTimeout) {
    public StreamOptions {
        if (!(smoothing > 0 && smoothing <= 1)) {
            throw new IllegalArgumentException("smoothing " + smoothing + " is not in (0, 1] (1 = off)");
        }
        if (!(maxFps >= 0 && maxFps <= 10_000)) {
            throw new IllegalArgumentException("max fps " + maxFps + " is not in [0, 10000] (0 = unpaced)");
        }
        if (queueCapacity < 1 || queueCapacity > 64) {
            throw new IllegalArgumentException("queue capacity " + queueCapacity + " is not in 1..64");
        }
        if (stallTimeout.isNegative() || stallTimeout.isZero()) {
            throw new IllegalArgumentException("stall timeout " + stallTimeout + " must be positive");
        }
    }

    /** No smoothing, no pacing, queues of 2 frames, a source stalled after 30 s. */
    public static StreamOptions defaults() {
        return new StreamOptions(1, 0, 2, Duration.ofSeconds(30));
    }

    public StreamOptions withSmoothing(double a) {
        return new StreamOptions(a, maxFps, queueCapacity, stallTimeout);
    }

    public StreamOptions withMaxFps(double f) {
        return new StreamOptions(smoothing, f, queueCapacity, stallTimeout);
    }

    public StreamOptions withQueueCapacity(int n) {
        return new StreamOptions(smoothing, maxFps, n, stallTimeout);
    }

    public StreamOptions withStallTimeout(Duration d) {
        return new StreamOptions(smoothing, maxFps, queueCapacity, d);
    }
}
