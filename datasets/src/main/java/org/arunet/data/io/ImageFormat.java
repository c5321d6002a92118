package org.arunet.data.io;

/**
 * The container formats this module reads. Anything else is refused before decoding, so every file
 * that reaches the decoder has had its declared dimensions checked (see {@link ImageHeaders}).
 */
public enum ImageFormat {
    PNG,
    JPEG,
    BMP,
    TIFF,
    /** DICOM Part 10 (a 128-byte preamble, then {@code DICM}); see {@link ImageReader} for what is read. */
    DICOM;

    /** The format whose signature {@code bytes} starts with, or {@code null} if none matches. */
    public static ImageFormat sniff(byte[] bytes) {
        if (Dicom.hasPreamble(bytes)) { // first: a DICOM preamble may itself look like a TIFF header
            return DICOM;
        }
        if (startsWith(bytes, 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A)) {
            return PNG;
        }
        if (startsWith(bytes, 0xFF, 0xD8, 0xFF)) {
            return JPEG;
        }
        if (startsWith(bytes, 'B', 'M')) {
            return BMP;
        }
        if (startsWith(bytes, 'I', 'I', 42, 0)
                || startsWith(bytes, 'M', 'M', 0, 42)
                || startsWith(bytes, 'I', 'I', 43, 0)
                || startsWith(bytes, 'M', 'M', 0, 43)) {
            return TIFF;
        }
        return null;
    }

    /** Whether the file name ends in an extension of one of these formats (case-insensitive). */
    public static boolean hasImageExtension(String fileName) {
        String n = fileName.toLowerCase(java.util.Locale.ROOT);
        return n.endsWith(".png")
                || n.endsWith(".jpg")
                || n.endsWith(".jpeg")
                || n.endsWith(".bmp")
                || n.endsWith(".tif")
                || n.endsWith(".tiff")
                || n.endsWith(".dcm")
                || n.endsWith(".dicom");
    }

    /**
     * Whether {@code file} is one to read as an image in a folder listing: a name with an image
     * extension ({@link #hasImageExtension}), or a regular file whose name has no extension and which
     * starts with a DICOM preamble (PACS exports often have bare names such as {@code IM000001}).
     */
    public static boolean isImageFile(java.nio.file.Path file) {
        String name = file.getFileName().toString();
        if (hasImageExtension(name)) {
            return true;
        }
        if (name.indexOf('.') > 0 || !java.nio.file.Files.isRegularFile(file)) {
            return false;
        }
        try (java.io.InputStream in = java.nio.file.Files.newInputStream(file)) {
            return Dicom.hasPreamble(in.readNBytes(132));
        } catch (java.io.IOException e) {
            return false;
        }
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
