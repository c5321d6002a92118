package org.arunet.data.io;

/**
 * Upper bounds checked against a file's size and its header's declared dimensions before anything is
 * decoded or allocated, so a small file declaring a huge image (a decompression bomb) is refused with
 * a {@link DataException} instead of exhausting memory.
 *
 * @param maxPixels most pixels ({@code width * height}) an image may declare
 * @param maxSide longest side an image may declare
 * @param maxFileBytes largest file that is read into memory
 * @param maxFrames most frames a multi-frame file (DICOM) may declare
 */
public record ImageLimits(long maxPixels, int maxSide, long maxFileBytes, int maxFrames) {
    /** Frames a file may declare unless told otherwise. */
    public static final int DEFAULT_MAX_FRAMES = 10_000;

    /**
     * 64 Mi pixels (8192 x 8192), 16384 pixels a side, 256 MiB a file: ample for ultrasound frames
     * (BUSI's largest is 1048 x 719), small enough that one decoded image cannot exhaust a heap;
     * 10,000 frames (a minute of cine loop at 30 frames a second is 1,800), decoded one at a time.
     */
    public static final ImageLimits DEFAULT = new ImageLimits(1L << 26, 16384, 256L << 20, DEFAULT_MAX_FRAMES);

    public ImageLimits {
        if (maxPixels <= 0 || maxSide <= 0 || maxFileBytes <= 0 || maxFrames <= 0) {
            throw new IllegalArgumentException("image limits must be positive, got maxPixels=" + maxPixels + " maxSide="
                    + maxSide + " maxFileBytes=" + maxFileBytes + " maxFrames=" + maxFrames);
        }
    }

    /** Limits with {@link #DEFAULT_MAX_FRAMES} frames. */
    public ImageLimits(long maxPixels, int maxSide, long maxFileBytes) {
        this(maxPixels, maxSide, maxFileBytes, DEFAULT_MAX_FRAMES);
    }
}
