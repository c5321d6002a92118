package org.arunet.data.io;

/**
 * The container formats this module reads. Anything else is refused before decoding, so every file
 * that reaches the decoder has had its declared dimensions checked (see {@link ImageHeaders}).
 */
public enum ImageFormat {
    PNG,
    JPEG,
    BMP,
    TIFF;

    /** The format whose signature {@code bytes} starts with, or {@code null} if none matches. */
    public static ImageFormat sniff(byte[] bytes) {
        if (startsWith(bytes, 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A)) {
            return PNG;
        }
        if (startsWith(bytes, 0xFF, 0xD8, 0xFF)) {
            return JPEG;
        }
        if (startsWith(bytes, 'B', 'M')) {
            return BMP;
        }
        if (startsWith(bytes, 'I', 'I', 42, 0) || startsWith(bytes, 'M', 'M', 0, 42)
                || startsWith(bytes, 'I', 'I', 43, 0) || startsWith(bytes, 'M', 'M', 0, 43)) {
            return TIFF;
        }
        return null;
    }

    /** Whether the file name ends in an extension of one of these formats (case-insensitive). */
    public static boolean hasImageExtension(String fileName) {
        String n = fileName.toLowerCase(java.util.Locale.ROOT);
        return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg") || n.endsWith(".bmp")
                || n.endsWith(".tif") || n.endsWith(".tiff");
    }

    private static boolean startsWith(byte[] bytes, int... sig) {
        if (bytes.length < sig.length) {
            return false;
        }
        for (int i = 0; i < sig.length; i++) {
            if ((bytes[i] & 0xFF) != sig[i]) {
                return false;
            }
        }
        return true;
    }
}
