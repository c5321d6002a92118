package org.arunet.data.io;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.MemoryCacheImageOutputStream;

/**
 * Writes DICOM Part 10 files for the tests, element by element as PS3.5 and PS3.10 lay them out
 * (dcm4che, the library the issue names, is not on Maven Central, the only registry here; ImageJ's
 * DICOM reader checks in {@code DicomReaderTest} that what this writes is DICOM as others read it).
 * Every field can be set wrong on purpose for the hostile cases.
 */
final class DicomFiles {
    static final String US_IMAGE = "1.2.840.10008.5.1.4.1.1.6.1";
    static final String US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1";

    String syntax = Dicom.EXPLICIT_LE;
    String sopClass = US_IMAGE;
    int rows;
    int columns;
    String photometric = "MONOCHROME2";
    int samplesPerPixel = 1;
    int bitsAllocated = 8;
    int bitsStored = -1;
    /** Number of Frames as written; null = element absent. */
    String frames;

    int planar = -1;
    String pixelSpacing;
    /** Ultrasound regions: {unitsX, unitsY, deltaX, deltaY} each (deltas in the units' scale, cm for 3). */
    final List<double[]> regions = new ArrayList<>();

    boolean regionsUndefinedLength = true;
    /** Uncompressed Pixel Data, or null for {@link #jpegFrames}. */
    byte[] pixels;
    /** Pixel Data length written instead of the real one (wrong length fields); -1 = the real one. */
    long pixelLengthOverride = -1;
    /** Encapsulated frames (JPEG Baseline), each split into {@link #fragmentsPerFrame} fragments. */
    List<byte[]> jpegFrames;

    int fragmentsPerFrame = 1;
    boolean offsetTable;
    /** Nesting depth of a private sequence written before the image elements (0 = none). */
    int nestedDepth;

    DicomFiles(int rows, int columns) {
        this.rows = rows;
        this.columns = columns;
    }

    byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[128]);
        out.writeBytes("DICM".getBytes(StandardCharsets.US_ASCII));
        // File meta information: always explicit VR little endian, group length first.
        Enc meta = new Enc(true, false);
        meta.ob(0x00020001, new byte[] {0, 1});
        meta.str(0x00020002, "UI", sopClass);
        meta.str(0x00020003, "UI", "1.2.826.0.1.3680043.2.1143.42");
        meta.str(0x00020010, "UI", syntax);
        meta.str(0x00020012, "UI", "1.2.826.0.1.3680043.2.1143.1");
        Enc groupLength = new Enc(true, false);
        groupLength.ul(0x00020000, meta.size());
        out.writeBytes(groupLength.bytes());
        out.writeBytes(meta.bytes());

        boolean explicit = !syntax.equals(Dicom.IMPLICIT_LE);
        boolean big = syntax.equals(Dicom.EXPLICIT_BE);
        Enc d = new Enc(explicit, big);
        d.str(0x00080016, "UI", sopClass);
        d.str(0x00080060, "CS", "US");
        if (nestedDepth > 0) {
            d.nested(0x00091010, nestedDepth);
        }
        if (!regions.isEmpty()) {
            List<byte[]> items = new ArrayList<>();
            for (double[] r : regions) {
                Enc item = new Enc(explicit, big);
                item.ul(0x00186018, 0);
                item.ul(0x0018601A, 0);
                item.ul(0x0018601C, columns - 1);
                item.ul(0x0018601E, rows - 1);
                item.us(0x00186024, (int) r[0]);
                item.us(0x00186026, (int) r[1]);
                item.fd(0x0018602C, r[2]);
                item.fd(0x0018602E, r[3]);
                items.add(item.bytes());
            }
            d.sequence(0x00186011, items, regionsUndefinedLength);
        }
        d.us(0x00280002, samplesPerPixel);
        d.str(0x00280004, "CS", photometric);
        if (planar >= 0) {
            d.us(0x00280006, planar);
        }
        if (frames != null) {
            d.str(0x00280008, "IS", frames);
        }
        d.us(0x00280010, rows);
        d.us(0x00280011, columns);
        if (pixelSpacing != null) {
            d.str(0x00280030, "DS", pixelSpacing);
        }
        d.us(0x00280100, bitsAllocated);
        d.us(0x00280101, bitsStored < 0 ? bitsAllocated : bitsStored);
        d.us(0x00280102, (bitsStored < 0 ? bitsAllocated : bitsStored) - 1);
        d.us(0x00280103, 0);
        if (jpegFrames == null) {
            long len = pixelLengthOverride >= 0 ? pixelLengthOverride : pixels.length + (pixels.length % 2);
            d.header(0x7FE00010, bitsAllocated == 16 ? "OW" : "OB", len);
            d.raw(pixels);
            if (pixels.length % 2 != 0) {
                d.raw(new byte[1]);
            }
        } else {
            d.header(0x7FE00010, "OB", 0xFFFFFFFFL);
            List<byte[]> frags = new ArrayList<>();
            List<Integer> frameStarts = new ArrayList<>();
            int offset = 0;
            for (byte[] f : jpegFrames) {
                frameStarts.add(offset);
                int per = (f.length + fragmentsPerFrame - 1) / fragmentsPerFrame;
                per += per % 2; // fragments have even lengths: only the last one is padded, after the EOI marker
                for (int at = 0; at < f.length; at += per) {
                    byte[] frag = java.util.Arrays.copyOfRange(f, at, Math.min(f.length, at + per));
                    if (frag.length % 2 != 0) {
                        frag = java.util.Arrays.copyOf(frag, frag.length + 1);
                    }
                    frags.add(frag);
                    offset += 8 + frag.length;
                }
            }
            ByteBuffer table = ByteBuffer.allocate(offsetTable ? 4 * frameStarts.size() : 0)
                    .order(ByteOrder.LITTLE_ENDIAN);
            if (offsetTable) {
                frameStarts.forEach(table::putInt);
            }
            d.item(table.array());
            frags.forEach(d::item);
            d.tag(0xFFFEE0DD);
            d.u32(0);
        }
        out.writeBytes(d.bytes());
        return out.toByteArray();
    }

    /** A baseline JPEG of {@code img} (grey or RGB; JFIF, so colour is YCbCr as YBR_FULL_422 says). */
    static byte[] jpeg(BufferedImage img) {
        try {
            ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (MemoryCacheImageOutputStream o = new MemoryCacheImageOutputStream(bytes)) {
                w.setOutput(o);
                ImageWriteParam p = w.getDefaultWriteParam();
                p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                p.setCompressionQuality(0.95f);
                w.write(null, new IIOImage(img, null, null), p);
            } finally {
                w.dispose();
            }
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Data elements in one transfer syntax. */
    static final class Enc {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final boolean explicit;
        private final boolean big;

        Enc(boolean explicit, boolean big) {
            this.explicit = explicit;
            this.big = big;
        }

        int size() {
            return out.size();
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        void raw(byte[] b) {
            out.writeBytes(b);
        }

        void u16(int v) {
            if (big) {
                out.write(v >>> 8);
                out.write(v);
            } else {
                out.write(v);
                out.write(v >>> 8);
            }
        }

        void u32(long v) {
            if (big) {
                u16((int) (v >>> 16) & 0xFFFF);
                u16((int) v & 0xFFFF);
            } else {
                u16((int) v & 0xFFFF);
                u16((int) (v >>> 16) & 0xFFFF);
            }
        }

        void tag(int tag) {
            u16(tag >>> 16);
            u16(tag & 0xFFFF);
        }

        void header(int tag, String vr, long length) {
            tag(tag);
            if (explicit) {
                out.writeBytes(vr.getBytes(StandardCharsets.US_ASCII));
                if (Set4.LONG.contains(vr)) {
                    u16(0);
                    u32(length);
                } else {
                    u16((int) length);
                }
            } else {
                u32(length);
            }
        }

        void str(int tag, String vr, String value) {
            byte[] b = value.getBytes(StandardCharsets.US_ASCII);
            boolean pad = b.length % 2 != 0;
            header(tag, vr, b.length + (pad ? 1 : 0));
            out.writeBytes(b);
            if (pad) {
                out.write(vr.equals("UI") ? 0 : ' ');
            }
        }

        void us(int tag, int v) {
            header(tag, "US", 2);
            u16(v);
        }

        void ul(int tag, long v) {
            header(tag, "UL", 4);
            u32(v);
        }

        void fd(int tag, double v) {
            header(tag, "FD", 8);
            long bits = Double.doubleToLongBits(v);
            if (big) {
                u32(bits >>> 32);
                u32(bits & 0xFFFFFFFFL);
            } else {
                u32(bits & 0xFFFFFFFFL);
                u32(bits >>> 32);
            }
        }

        void ob(int tag, byte[] b) {
            header(tag, "OB", b.length);
            out.writeBytes(b);
        }

        void item(byte[] content) {
            tag(0xFFFEE000);
            u32(content.length);
            out.writeBytes(content);
        }

        void sequence(int tag, List<byte[]> items, boolean undefinedLength) {
            if (undefinedLength) {
                header(tag, "SQ", 0xFFFFFFFFL);
                for (byte[] i : items) {
                    tag(0xFFFEE000);
                    u32(0xFFFFFFFFL);
                    out.writeBytes(i);
                    tag(0xFFFEE00D);
                    u32(0);
                }
                tag(0xFFFEE0DD);
                u32(0);
            } else {
                long len = 0;
                for (byte[] i : items) {
                    len += 8 + i.length;
                }
                header(tag, "SQ", len);
                items.forEach(this::item);
            }
        }

        /** A private sequence nested {@code depth} deep, each level one item of undefined length. */
        void nested(int tag, int depth) {
            header(tag, "SQ", 0xFFFFFFFFL);
            tag(0xFFFEE000);
            u32(0xFFFFFFFFL);
            if (depth > 1) {
                nested(tag, depth - 1);
            } else {
                str(0x00091011, "LO", "deep");
            }
            tag(0xFFFEE00D);
            u32(0);
            tag(0xFFFEE0DD);
            u32(0);
        }
    }

    private static final class Set4 {
        static final java.util.Set<String> LONG =
                java.util.Set.of("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV");
    }
}
