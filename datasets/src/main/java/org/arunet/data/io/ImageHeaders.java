package org.arunet.data.io;

import java.nio.file.Path;

/**
 * Reads and checks image headers (PNG IHDR, JPEG SOF, BMP info header, TIFF first IFD) from the raw
 * bytes of a file, before any decoder sees them.
 *
 * <p>{@link #check} refuses, with a {@link DataException} naming the file: an empty file, an unknown
 * format, a header cut short, a zero width or height, declared dimensions beyond the
 * {@link ImageLimits} (decompression bombs), and a file that ends before its image data does (a PNG
 * without {@code IEND}, a chunk running past the end, a JPEG without an end-of-image marker after its
 * scan, an uncompressed BMP shorter than its rows). The last checks matter because libjpeg decodes a
 * truncated JPEG "successfully", filling the missing rows with grey.
 */
public final class ImageHeaders {
    private ImageHeaders() {}

    /** Parses and checks the header of {@code bytes}, the whole content of {@code file}. */
    public static ImageHeader check(Path file, byte[] bytes, ImageLimits limits) {
        if (bytes.length == 0) {
            throw new DataException(file, "file is empty (0 bytes)");
        }
        ImageFormat format = ImageFormat.sniff(bytes);
        if (format == null) {
            throw new DataException(
                    file, "not a PNG, JPEG, BMP, TIFF or DICOM file (starts with " + hexStart(bytes) + ")");
        }
        if (format == ImageFormat.DICOM) {
            return checkDicom(file, bytes, limits).header();
        }
        Reader r = new Reader(file, bytes, format);
        ImageHeader h =
                switch (format) {
                    case PNG -> png(r);
                    case JPEG -> jpeg(r);
                    case BMP -> bmp(r);
                    case TIFF -> tiff(r);
                    case DICOM -> throw new AssertionError("handled above");
                };
        checkSize(file, h, limits);
        switch (format) { // only now look for the end of the data: a bomb is reported as a bomb
            case PNG -> pngComplete(r);
            case JPEG -> jpegComplete(r);
            case BMP -> bmpComplete(r, h);
            case TIFF, DICOM -> {} // libtiff reports missing strips itself; the IFD was bounds-checked above
        }
        return h;
    }

    /**
     * A DICOM file's header ({@link Dicom}): parsed, its frame size checked against the limits (as any
     * image's), then its pixel data checked to hold every declared frame.
     */
    static Dicom.Info checkDicom(Path file, byte[] bytes, ImageLimits limits) {
        Dicom.Info info = Dicom.parse(file, bytes, limits);
        checkSize(file, info.header(), limits);
        Dicom.checkPixelData(file, bytes, info);
        return info;
    }

    private static void checkSize(Path file, ImageHeader h, ImageLimits limits) {
        if (h.width() <= 0 || h.height() <= 0) {
            throw new DataException(
                    file, "zero-size image: " + h.format() + " header declares " + h.width() + "x" + h.height());
        }
        if (h.width() > limits.maxSide() || h.height() > limits.maxSide() || h.pixels() > limits.maxPixels()) {
            throw new DataException(
                    file,
                    h.format() + " header declares " + h.width() + "x" + h.height() + " ("
                            + h.pixels() + " pixels), beyond the limit of " + limits.maxSide() + " a side and "
                            + limits.maxPixels() + " pixels; refused before decoding (possible decompression bomb)");
        }
    }

    // ---- PNG: signature, then chunks (length, type, data, crc); IHDR first, IEND last.

    private static ImageHeader png(Reader r) {
        r.need(8 + 8 + 13, "PNG IHDR chunk");
        if (r.u32be(8) != 13 || !r.ascii(12, 4).equals("IHDR")) {
            throw r.fail("PNG does not start with an IHDR chunk");
        }
        long w = r.u32be(16);
        long h = r.u32be(20);
        int depth = r.u8(24);
        int colourType = r.u8(25);
        int channels =
                switch (colourType) {
                    case 0, 3 -> 1;
                    case 2 -> 3;
                    case 4 -> 2;
                    case 6 -> 4;
                    default -> throw r.fail("PNG colour type " + colourType + " is invalid");
                };
        return new ImageHeader(ImageFormat.PNG, clampInt(w), clampInt(h), channels, depth, colourType == 3);
    }

    /** Walks the chunks: every chunk must fit in the file, there must be image data and an IEND. */
    private static void pngComplete(Reader r) {
        long pos = 8;
        boolean sawData = false;
        boolean sawEnd = false;
        while (pos + 8 <= r.length()) {
            long len = r.u32be((int) pos);
            String type = r.ascii((int) pos + 4, 4);
            long next = pos + 12 + len;
            if (len > Integer.MAX_VALUE || next > r.length()) {
                throw r.fail("truncated PNG: chunk " + type + " at byte " + pos + " needs " + len
                        + " bytes but the file ends at " + r.length());
            }
            sawData |= type.equals("IDAT");
            if (type.equals("IEND")) {
                sawEnd = true;
                break;
            }
            pos = next;
        }
        if (!sawData) {
            throw r.fail("corrupt PNG: no IDAT (image data) chunk");
        }
        if (!sawEnd) {
            throw r.fail("truncated PNG: no IEND chunk (the file ends at byte " + r.length() + ")");
        }
    }

    // ---- JPEG: markers FF xx; SOFn gives precision, height, width, components; EOI must follow SOS.

    private static ImageHeader jpeg(Reader r) {
        ImageHeader sof = jpegWalk(r, true);
        if (sof == null) {
            throw r.fail("corrupt or truncated JPEG: no SOF (frame header) before the image data");
        }
        return sof;
    }

    /** Checks that the JPEG has a scan and an end-of-image marker after it. */
    private static void jpegComplete(Reader r) {
        jpegWalk(r, false);
    }

    /**
     * Walks the marker segments up to the first SOS. With {@code headerOnly} returns the first SOF
     * (or null); otherwise checks that an SOS exists and that an EOI follows it.
     */
    private static ImageHeader jpegWalk(Reader r, boolean headerOnly) {
        int pos = 2;
        ImageHeader sof = null;
        int sos = -1;
        while (pos + 4 <= r.length()) {
            if (r.u8(pos) != 0xFF) {
                throw r.fail("corrupt JPEG: expected a marker at byte " + pos);
            }
            int marker = r.u8(pos + 1);
            if (marker == 0xFF) { // fill byte
                pos++;
                continue;
            }
            if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { // no length
                pos += 2;
                continue;
            }
            if (marker == 0xD9) {
                break;
            }
            int len = r.u16be(pos + 2);
            if (len < 2 || pos + 2 + len > r.length()) {
                throw r.fail("truncated JPEG: segment FF"
                        + Integer.toHexString(marker).toUpperCase() + " at byte " + pos
                        + " runs past the end of the file");
            }
            boolean isSof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
            if (isSof && sof == null) {
                if (len < 8) {
                    throw r.fail("corrupt JPEG: SOF segment too short");
                }
                int precision = r.u8(pos + 4);
                int h = r.u16be(pos + 5);
                int w = r.u16be(pos + 7);
                int comps = r.u8(pos + 9);
                sof = new ImageHeader(ImageFormat.JPEG, w, h, comps, precision, false);
                if (headerOnly) {
                    return sof;
                }
            }
            if (marker == 0xDA) { // start of scan: entropy-coded data follows
                sos = pos;
                break;
            }
            pos += 2 + len;
        }
        if (headerOnly) {
            return sof;
        }
        if (sos < 0) {
            throw r.fail("truncated JPEG: no SOS (start of scan) marker, the file holds no image data");
        }
        // In entropy-coded data FF is always followed by 00 or RSTn, so an FF D9 after SOS is the EOI.
        int eoi = -1;
        for (int i = r.length() - 2; i > sos; i--) {
            if (r.u8(i) == 0xFF && r.u8(i + 1) == 0xD9) {
                eoi = i;
                break;
            }
        }
        if (eoi < 0) {
            throw r.fail("truncated JPEG: no end-of-image marker (FF D9) after the image data");
        }
        return sof;
    }

    // ---- BMP: 14-byte file header, then a DIB header (12 = OS/2 core, 40+ = Windows info header).

    private static ImageHeader bmp(Reader r) {
        r.need(14 + 12, "BMP headers");
        long dibSize = r.u32le(14);
        int w;
        int h;
        int bpp;
        if (dibSize == 12) {
            w = r.u16le(18);
            h = r.u16le(20);
            bpp = r.u16le(24);
        } else if (dibSize >= 40) {
            r.need(14 + 40, "BMP info header");
            w = r.i32le(18);
            h = Math.abs(r.i32le(22)); // negative height = rows stored top-down
            bpp = r.u16le(28);
        } else {
            throw r.fail("BMP header size " + dibSize + " is not a known BMP variant");
        }
        if (!(bpp == 1 || bpp == 4 || bpp == 8 || bpp == 16 || bpp == 24 || bpp == 32)) {
            throw r.fail("BMP bits per pixel " + bpp + " is invalid");
        }
        int channels = bpp <= 8 ? 1 : bpp == 32 ? 4 : 3;
        return new ImageHeader(ImageFormat.BMP, w, h, channels, bpp, bpp <= 8);
    }

    /** Uncompressed rows (BI_RGB, BI_BITFIELDS) are padded to 4 bytes and must all be in the file. */
    private static void bmpComplete(Reader r, ImageHeader h) {
        long dataOffset = r.u32le(10);
        long dibSize = r.u32le(14);
        long compression = dibSize >= 40 ? r.u32le(30) : 0;
        if (compression == 0 || compression == 3) {
            long rowBytes = (((long) h.bitDepth() * h.width() + 31) / 32) * 4;
            long end = dataOffset + rowBytes * h.height();
            if (end > r.length()) {
                throw r.fail("truncated BMP: " + h.width() + "x" + h.height() + " at " + h.bitDepth() + " bits needs "
                        + end + " bytes, the file has " + r.length());
            }
        }
    }

    // ---- TIFF (classic and BigTIFF): the first IFD's ImageWidth, ImageLength, BitsPerSample,
    // SamplesPerPixel and PhotometricInterpretation tags. Only the first page is decoded.

    private static ImageHeader tiff(Reader r) {
        r.need(8, "TIFF header");
        boolean le = r.u8(0) == 'I';
        boolean big = r.u16(2, le) == 43;
        long ifd;
        if (big) {
            r.need(16, "BigTIFF header");
            ifd = r.u64(8, le);
        } else {
            ifd = r.u32(4, le);
        }
        int entrySize = big ? 20 : 12;
        int countSize = big ? 8 : 2;
        if (ifd < 8 || ifd > r.length() - countSize) { // (not ifd + countSize: a BigTIFF offset can be near 2^63)
            throw r.fail(
                    "truncated TIFF: first IFD offset " + ifd + " lies outside the file of " + r.length() + " bytes");
        }
        long count = big ? r.u64((int) ifd, le) : r.u16((int) ifd, le);
        long entries = ifd + countSize;
        if (count > 4096 || entries + count * entrySize > r.length()) {
            throw r.fail("truncated or corrupt TIFF: IFD at " + ifd + " declares " + count + " entries");
        }
        long w = -1;
        long h = -1;
        int bits = 1;
        int spp = 1;
        int photometric = -1;
        for (int i = 0; i < count; i++) {
            int e = (int) (entries + (long) i * entrySize);
            int tag = r.u16(e, le);
            int type = r.u16(e + 2, le);
            int valueAt = e + (big ? 12 : 8);
            long n = big ? r.u64(e + 4, le) : r.u32(e + 4, le);
            // Inline SHORT/LONG scalar; for BitsPerSample with several values the field is an offset.
            long v;
            if (type == 3) {
                int inlineShorts = big ? 4 : 2;
                if (n <= inlineShorts) {
                    v = r.u16(valueAt, le);
                } else {
                    long off = big ? r.u64(valueAt, le) : r.u32(valueAt, le);
                    if (off < 0 || off > r.length() - 2) {
                        throw r.fail("truncated TIFF: tag " + tag + " points past the end of the file");
                    }
                    v = r.u16((int) off, le);
                }
            } else if (type == 4) {
                v = r.u32(valueAt, le);
            } else if (type == 16) {
                v = r.u64(valueAt, le);
            } else {
                continue;
            }
            switch (tag) {
                case 256 -> w = v;
                case 257 -> h = v;
                case 258 -> bits = (int) v;
                case 277 -> spp = (int) v;
                case 262 -> photometric = (int) v;
                default -> {}
            }
        }
        if (w < 0 || h < 0) {
            throw r.fail("corrupt TIFF: first IFD has no ImageWidth/ImageLength tag");
        }
        return new ImageHeader(ImageFormat.TIFF, clampInt(w), clampInt(h), spp, bits, photometric == 3);
    }

    private static int clampInt(long v) {
        return (int) Math.min(v, Integer.MAX_VALUE);
    }

    private static String hexStart(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) {
            s.append(String.format("%02X ", b[i] & 0xFF));
        }
        return s.toString().trim();
    }

    /** Bounds-checked little/big-endian reads; every overrun becomes a "truncated" DataException. */
    private static final class Reader {
        private final Path file;
        private final byte[] b;
        private final ImageFormat format;

        Reader(Path file, byte[] b, ImageFormat format) {
            this.file = file;
            this.b = b;
            this.format = format;
        }

        int length() {
            return b.length;
        }

        DataException fail(String problem) {
            return new DataException(file, problem);
        }

        void need(long n, String what) {
            if (b.length < n) {
                throw fail("truncated " + format + ": file has " + b.length + " bytes, too short for the " + what);
            }
        }

        int u8(int i) {
            if (i < 0) { // an offset from the file that overflowed on its way here
                throw fail("corrupt " + format + ": offset " + Integer.toUnsignedString(i) + " lies outside the file");
            }
            need((long) i + 1, "data at byte " + i);
            return b[i] & 0xFF;
        }

        int u16be(int i) {
            return (u8(i) << 8) | u8(i + 1);
        }

        int u16le(int i) {
            return u8(i) | (u8(i + 1) << 8);
        }

        long u32be(int i) {
            return ((long) u16be(i) << 16) | u16be(i + 2);
        }

        long u32le(int i) {
            return u16le(i) | ((long) u16le(i + 2) << 16);
        }

        int i32le(int i) {
            return (int) u32le(i);
        }

        int u16(int i, boolean le) {
            return le ? u16le(i) : u16be(i);
        }

        long u32(int i, boolean le) {
            return le ? u32le(i) : u32be(i);
        }

        long u64(int i, boolean le) {
            long lo = u32(le ? i : i + 4, le);
            long hi = u32(le ? i + 4 : i, le);
            if (hi > Integer.MAX_VALUE) {
                return Long.MAX_VALUE; // absurd offset or size; callers treat it as out of range
            }
            return (hi << 32) | lo;
        }

        String ascii(int i, int n) {
            u8(i);
            need((long) i + n, "data at byte " + i);
            return new String(b, i, n, java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }
}
