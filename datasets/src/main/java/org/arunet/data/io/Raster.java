package org.arunet.data.io;

import java.nio.ByteOrder;

/**
 * A decoded image held in Java memory: row-major, channels interleaved (RGB order when there are
 * three), 8-bit samples one byte each, 16-bit samples two bytes each in native byte order (the
 * layout of an OpenCV {@code CV_16U} buffer, so a raster converts to and from a {@code Mat} by one
 * copy). Masks are 8-bit, one channel, holding class indices.
 *
 * @param width pixels per row, positive
 * @param height rows, positive
 * @param channels 1 (grey or mask) or 3 (RGB)
 * @param bitDepth 8 or 16
 * @param data {@code width * height * channels * bitDepth / 8} bytes
 */
public record Raster(int width, int height, int channels, int bitDepth, byte[] data) {
    private static final boolean LITTLE = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    public Raster {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("raster must have a positive size, got " + width + "x" + height);
        }
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("raster must have 1 or 3 channels, got " + channels);
        }
        if (bitDepth != 8 && bitDepth != 16) {
            throw new IllegalArgumentException("raster must be 8- or 16-bit, got " + bitDepth);
        }
        long expected = (long) width * height * channels * (bitDepth / 8);
        if (data.length != expected) {
            throw new IllegalArgumentException("raster " + width + "x" + height + "x" + channels + " at " + bitDepth
                    + " bits needs " + expected + " bytes, got " + data.length);
        }
    }

    /** A zero-filled 8-bit raster. */
    public static Raster zeros8(int width, int height, int channels) {
        return new Raster(width, height, channels, 8, new byte[width * height * channels]);
    }

    /** Largest sample value: 255 or 65535. */
    public int maxValue() {
        return bitDepth == 8 ? 255 : 65535;
    }

    /** Sample {@code (x, y, c)} as an unsigned value. */
    public int get(int x, int y, int c) {
        return sample(((long) y * width + x) * channels + c);
    }

    /** The {@code i}-th sample in storage order, unsigned. */
    public int sample(long i) {
        if (bitDepth == 8) {
            return data[(int) i] & 0xFF;
        }
        int j = (int) (2 * i);
        int lo = data[LITTLE ? j : j + 1] & 0xFF;
        int hi = data[LITTLE ? j + 1 : j] & 0xFF;
        return (hi << 8) | lo;
    }

    /** Sets the {@code i}-th sample (storage order) to the unsigned value {@code v}. */
    public void setSample(long i, int v) {
        if (bitDepth == 8) {
            data[(int) i] = (byte) v;
            return;
        }
        int j = (int) (2 * i);
        data[LITTLE ? j : j + 1] = (byte) v;
        data[LITTLE ? j + 1 : j] = (byte) (v >>> 8);
    }

    /** Number of samples, {@code width * height * channels}. */
    public long samples() {
        return (long) width * height * channels;
    }

    /** Bytes per row. */
    public int rowBytes() {
        return width * channels * (bitDepth / 8);
    }
}
