package org.arunet.data.io;

/**
 * What a file's header declares, read without decoding any pixel.
 *
 * @param format container format
 * @param width declared width in pixels
 * @param height declared height in pixels
 * @param channels samples per pixel as stored (PNG palette: 1, the index)
 * @param bitDepth bits per sample as stored (PNG 1/2/4/8/16, JPEG 8/12, BMP bits per pixel, TIFF
 *     bits per sample)
 * @param indexed whether pixels are indices into a palette (PNG colour type 3, BMP of 8 bits or fewer,
 *     TIFF photometric "palette")
 */
public record ImageHeader(ImageFormat format, int width, int height, int channels, int bitDepth, boolean indexed) {
    /** {@code width * height}. */
    public long pixels() {
        return (long) width * height;
    }
}
