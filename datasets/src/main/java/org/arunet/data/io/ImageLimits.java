package org.arunet.data.io;

/**
 * Upper bounds checked against a file's size and its header's declared dimensions before anything is
 * decoded or allocated, so a small file declaring a huge image (a decompression bomb) is refused with
 * a {@link DataException} instead of exhausting memory.
 *
 * @param maxPixels most pixels ({@code width * height}) an image may declare
 * @param maxSide longest side an image may declare
 * @param maxFileBytes largest file that is read into memory
 */
public record ImageLimits(long maxPixels, int maxSide, long maxFileBytes) {
    /**
     * 64 Mi pixels (8192 x 8192), 16384 pixels a side, 256 MiB a file: ample for ultrasound frames
     * (BUSI's largest is 1048 x 719), small enough that one decoded image cannot exhaust a heap.
     */
    public static final ImageLimits DEFAULT = new ImageLimits(1L << 26, 16384, 256L << 20);

    public ImageLimits {
        if (maxPixels <= 0 || maxSide <= 0 || maxFileBytes <= 0) {
            throw new IllegalArgumentException("image limits must be positive, got maxPixels=" + maxPixels
                    + " maxSide=" + maxSide + " maxFileBytes=" + maxFileBytes);
        }
    }
}
