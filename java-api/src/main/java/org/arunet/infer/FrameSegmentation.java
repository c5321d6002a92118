package org.arunet.infer;

import org.arunet.data.io.Raster;

/**
 * One frame of a {@link SegmentationStream}: the decoded frame and its segmentation.
 *
 * @param index 0-based frame index in the source
 * @param timeSeconds the frame's time from the start of the source
 * @param image the decoded frame (grey or RGB order), e.g. for an overlay
 * @param segmentation the frame's segmentation at its own size, with the source's pixel spacing where it
 *     states one
 * @param latencyNanos from the moment the reader asked the source for this frame to the moment the
 *     result was handed to the caller (decode, queues, model, resize)
 */
public record FrameSegmentation(
        int index, double timeSeconds, Raster image, Segmentation segmentation, long latencyNanos) {}
