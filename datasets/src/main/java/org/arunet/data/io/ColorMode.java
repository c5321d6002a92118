package org.arunet.data.io;

/** How {@link ImageReader#readImage} maps the stored channels to the returned raster's channels. */
public enum ColorMode {
    /** One channel: colour images are converted with Y = 0.299 R + 0.587 G + 0.114 B (rounded). */
    GREY,
    /**
     * One channel for grey images and for colour images whose three channels are identical (BUSI's
     * originals are stored that way), three (RGB) for true colour: the compact form the loader caches.
     */
    AUTO,
    /** Three channels, RGB; grey is replicated. */
    RGB
}
