package org.arunet.data.io;

/**
 * A decoded image with its mask, the same size.
 *
 * @param image the image, 1 or 3 channels, 8 or 16 bits
 * @param mask class indices, 8-bit, 1 channel, values below the class count it was read with
 */
public record ImagePair(Raster image, Raster mask) {
    public ImagePair {
        if (image.width() != mask.width() || image.height() != mask.height()) {
            throw new IllegalArgumentException("image " + image.width() + "x" + image.height() + " and mask "
                    + mask.width() + "x" + mask.height() + " differ in size");
        }
    }
}
