package org.arunet.data.video;

import java.util.Objects;
import org.arunet.data.io.Raster;

/**
 * One decoded frame of a moving-image source.
 *
 * @param index 0-based position in the source
 * @param timeSeconds presentation time from the start of the source (index / frame rate where the source
 *     states no time)
 * @param image the decoded frame, grey or RGB order, 8 or 16 bits
 */
public record VideoFrame(int index, double timeSeconds, Raster image) {
    public VideoFrame {
        if (index < 0) {
            throw new IllegalArgumentException("frame index " + index + " < 0");
        }
        Objects.requireNonNull(image, "image");
    }
}
