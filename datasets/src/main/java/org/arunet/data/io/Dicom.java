package org.arunet.data.io;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A DICOM Part 10 file's image, read from its bytes without any library: the File Meta Information
 * (explicit VR little endian), then the data set in its transfer syntax up to Pixel Data (7FE0,0010).
 * Only what an image needs is kept: Rows, Columns, Samples per Pixel, Photometric Interpretation,
 * Planar Configuration, Bits Allocated/Stored, Pixel Representation, Number of Frames, Pixel Spacing
 * and the Sequence of Ultrasound Regions' Physical Delta X/Y; every other element is skipped by its
 * length (sequences of undefined length are walked item by item, at most {@value #MAX_DEPTH} deep).
 *
 * <p>Transfer syntaxes: implicit VR little endian, explicit VR little endian, explicit VR big endian
 * (uncompressed) and JPEG Baseline (Process 1), whose frames are handed to the JPEG header checks and
 * decoder like any JPEG file. Any other syntax is refused, naming it. Photometric interpretations:
 * MONOCHROME2, MONOCHROME1 (inverted on reading), RGB, YBR_FULL and YBR_FULL_422 (converted to RGB);
 * 8 or 16 bits allocated for grey, 8 for colour; unsigned samples.
 *
 * <p>Every read is bounds-checked: a file cut short, a length field pointing past the end, a Pixel
 * Data element shorter than its declared frames, more frames than {@link ImageLimits#maxFrames()} or
 * frames beyond the pixel limits are refused with a {@link DataException} before any pixel buffer is
 * allocated.
 */
final class Dicom {
    static final String IMPLICIT_LE = "1.2.840.10008.1.2";
    static final String EXPLICIT_LE = "1.2.840.10008.1.2.1";
    static final String EXPLICIT_BE = "1.2.840.10008.1.2.2";
    static final String JPEG_BASELINE = "1.2.840.10008.1.2.4.50";
    static final int MAX_DEPTH = 16;

    /** Names of transfer syntaxes we refuse, for the message. */
    private static final Map<String, String> SYNTAX_NAMES = Map.ofEntries(
            Map.entry("1.2.840.10008.1.2.1.99", "Deflated Explicit VR Little Endian"),
            Map.entry("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)"),
            Map.entry("1.2.840.10008.1.2.4.57", "JPEG Lossless (Process 14)"),
            Map.entry("1.2.840.10008.1.2.4.70", "JPEG Lossless SV1"),
            Map.entry("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"),
            Map.entry("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless"),
            Map.entry("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless"),
            Map.entry("1.2.840.10008.1.2.4.91", "JPEG 2000"),
            Map.entry("1.2.840.10008.1.2.4.100", "MPEG2 Main Profile"),
            Map.entry("1.2.840.10008.1.2.4.102", "MPEG-4 AVC/H.264"),
            Map.entry("1.2.840.10008.1.2.4.201", "High-Throughput JPEG 2000 Lossless"),
            Map.entry("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000"),
            Map.entry("1.2.840.10008.1.2.5", "RLE Lossless"));

    private static final int UNDEFINED = -1;
    private static final int ITEM = 0xFFFEE000;
    private static final int ITEM_END = 0xFFFEE00D;
    private static final int SEQUENCE_END = 0xFFFEE0DD;
    private static final int TRANSFER_SYNTAX = 0x00020010;
    private static final int SOP_CLASS = 0x00080016;
    private static final int SAMPLES_PER_PIXEL = 0x00280002;
    private static final int PHOTOMETRIC = 0x00280004;
    private static final int PLANAR = 0x00280006;
    private static final int FRAMES = 0x00280008;
    private static final int ROWS = 0x00280010;
    private static final int COLUMNS = 0x00280011;
    private static final int PIXEL_SPACING = 0x00280030;
    private static final int BITS_ALLOCATED = 0x00280100;
    private static final int BITS_STORED = 0x00280101;
    private static final int PIXEL_REPRESENTATION = 0x00280103;
    private static final int US_REGIONS = 0x00186011;
    private static final int UNITS_X = 0x00186024;
    private static final int UNITS_Y = 0x00186026;
    private static final int DELTA_X = 0x0018602C;
    private static final int DELTA_Y = 0x0018602E;
    private static final int PIXEL_DATA = 0x7FE00010;
    /** Physical Units X/Y Direction code for centimetres (PS3.3 C.8.5.5.1.15). */
    private static final int UNITS_CM = 3;

    private static final Set<String> LONG_VRS =
            Set.of("OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV");

    private Dicom() {}

    /**
     * What the header declares, and where the frames are.
     *
     * @param frameOffsets start of each frame's bytes (uncompressed: one per frame; JPEG: one list of
     *     fragments per frame, as offset/length pairs)
     * @param spacingNote why there is no spacing, when {@code spacing} is null
     */
    record Info(
            String transferSyntax,
            String sopClass,
            int rows,
            int columns,
            int samplesPerPixel,
            String photometric,
            int planar,
            int bitsAllocated,
            int bitsStored,
            int frames,
            boolean bigEndian,
            boolean jpeg,
            long pixelOffset,
            long pixelLength,
            List<long[]> fragments,
            long[] offsetTable,
            PixelSpacing spacing,
            String spacingNote) {

        ImageHeader header() {
            return new ImageHeader(ImageFormat.DICOM, columns, rows, samplesPerPixel, jpeg ? 8 : bitsAllocated, false);
        }

        /** Bytes of one uncompressed frame. */
        long frameBytes() {
            if (photometric.equals("YBR_FULL_422")) {
                return (long) rows * columns * 2;
            }
            return (long) rows * columns * samplesPerPixel * (bitsAllocated / 8);
        }
    }

    /** Whether {@code b} starts with the 128-byte preamble and the {@code DICM} prefix. */
    static boolean hasPreamble(byte[] b) {
        return b.length >= 132 && b[128] == 'D' && b[129] == 'I' && b[130] == 'C' && b[131] == 'M';
    }

    /**
     * Parses {@code b} (the whole file) and checks everything but the pixel limits (the caller checks the
     * returned header against them, then calls {@link #checkPixelData}).
     */
    static Info parse(Path file, byte[] b, ImageLimits limits) {
        if (!hasPreamble(b)) {
            throw new DataException(file, "not a DICOM file: no 'DICM' prefix after the 128-byte preamble");
        }
        Parser p = new Parser(file, b, 132, true, false);
        Map<Integer, long[]> meta = new HashMap<>();
        while (p.pos + 6 <= b.length && p.u16(p.pos) == 0x0002) {
            long[] e = p.element();
            p.need(e[2] + e[1], "file meta element " + tagName((int) e[0]));
            meta.put((int) e[0], e);
            p.pos = (int) (e[2] + e[1]);
        }
        long[] ts = meta.get(TRANSFER_SYNTAX);
        if (ts == null) {
            throw new DataException(
                    file, "corrupt DICOM: the file meta information has no Transfer Syntax UID" + " (0002,0010)");
        }
        String syntax = p.string(ts);
        boolean jpeg = syntax.equals(JPEG_BASELINE);
        if (!jpeg && !syntax.equals(IMPLICIT_LE) && !syntax.equals(EXPLICIT_LE) && !syntax.equals(EXPLICIT_BE)) {
            String name = SYNTAX_NAMES.getOrDefault(syntax, "an unknown transfer syntax");
            throw new DataException(
                    file,
                    "DICOM transfer syntax " + syntax + " (" + name + ") is not supported;"
                            + " supported: implicit and explicit VR little endian, explicit VR big endian (uncompressed) and"
                            + " JPEG Baseline " + JPEG_BASELINE);
        }
        p.explicit = !syntax.equals(IMPLICIT_LE);
        p.bigEndian = syntax.equals(EXPLICIT_BE);
        Map<Integer, long[]> top = new HashMap<>();
        List<Map<Integer, long[]>> regions = new ArrayList<>();
        long[] pixel = p.elements(b.length, 0, top, regions);
        if (pixel == null) {
            throw new DataException(
                    file, "DICOM object has no Pixel Data (7FE0,0010): not an image" + sopClassText(p, top));
        }
        String photometric =
                req(p, top, PHOTOMETRIC, "Photometric Interpretation").toUpperCase(Locale.ROOT);
        int rows = p.us(req(top, ROWS, p, "Rows"));
        int columns = p.us(req(top, COLUMNS, p, "Columns"));
        int spp = top.containsKey(SAMPLES_PER_PIXEL) ? p.us(top.get(SAMPLES_PER_PIXEL)) : 1;
        int planar = top.containsKey(PLANAR) ? p.us(top.get(PLANAR)) : 0;
        int bitsAllocated = p.us(req(top, BITS_ALLOCATED, p, "Bits Allocated"));
        int bitsStored = top.containsKey(BITS_STORED) ? p.us(top.get(BITS_STORED)) : bitsAllocated;
        int representation = top.containsKey(PIXEL_REPRESENTATION) ? p.us(top.get(PIXEL_REPRESENTATION)) : 0;
        long frames = 1;
        if (top.containsKey(FRAMES)) {
            String f = p.string(top.get(FRAMES));
            try {
                frames = f.isEmpty() ? 1 : Long.parseLong(f);
            } catch (NumberFormatException e) {
                throw new DataException(
                        file, "corrupt DICOM: Number of Frames (0028,0008) is '" + f + "', not a number");
            }
        }
        if (frames < 1) {
            throw new DataException(file, "corrupt DICOM: Number of Frames (0028,0008) is " + frames);
        }
        if (frames > limits.maxFrames()) {
            throw new DataException(
                    file,
                    "DICOM declares " + frames + " frames, beyond the limit of " + limits.maxFrames()
                            + "; refused before decoding (possible frame bomb)");
        }
        boolean mono = photometric.equals("MONOCHROME2") || photometric.equals("MONOCHROME1");
        boolean colour =
                photometric.equals("RGB") || photometric.equals("YBR_FULL") || photometric.equals("YBR_FULL_422");
        if (!mono && !colour) {
            throw new DataException(
                    file,
                    "DICOM photometric interpretation '" + photometric + "' is not supported"
                            + " (MONOCHROME1, MONOCHROME2, RGB, YBR_FULL and YBR_FULL_422 are)");
        }
        if (spp != (mono ? 1 : 3)) {
            throw new DataException(file, "corrupt DICOM: " + photometric + " with " + spp + " samples per pixel");
        }
        if (representation != 0) {
            throw new DataException(
                    file, "DICOM pixel data is signed (Pixel Representation 1); only unsigned" + " samples are read");
        }
        if (jpeg ? bitsAllocated != 8 : !(bitsAllocated == 8 || (bitsAllocated == 16 && mono))) {
            throw new DataException(
                    file,
                    "DICOM " + photometric + " with " + bitsAllocated + " bits allocated is not" + " supported ("
                            + (jpeg ? "JPEG Baseline is 8-bit" : "8 or 16 bits for grey, 8 for colour") + ")");
        }
        if (bitsStored < 1 || bitsStored > bitsAllocated) {
            throw new DataException(
                    file, "corrupt DICOM: Bits Stored " + bitsStored + " with Bits Allocated " + bitsAllocated);
        }
        if (planar != 0 && planar != 1) {
            throw new DataException(file, "corrupt DICOM: Planar Configuration " + planar);
        }
        if (!jpeg && photometric.equals("YBR_FULL_422") && columns % 2 != 0) {
            throw new DataException(
                    file, "corrupt DICOM: YBR_FULL_422 needs an even number of columns, got " + columns);
        }
        PixelSpacing spacing = null;
        String note;
        if (top.containsKey(PIXEL_SPACING)) {
            spacing = pixelSpacing(file, p.string(top.get(PIXEL_SPACING)));
            note = null;
        } else {
            Object r = regionSpacing(p, regions);
            if (r instanceof PixelSpacing s) {
                spacing = s;
                note = null;
            } else {
                note = (String) r;
            }
        }
        String sop = top.containsKey(SOP_CLASS) ? p.string(top.get(SOP_CLASS)) : "";
        List<long[]> fragments = null;
        long[] offsets = null;
        if (jpeg) {
            if (pixel[1] != UNDEFINED) {
                throw new DataException(
                        file,
                        "corrupt DICOM: JPEG Baseline pixel data must be encapsulated"
                                + " (undefined length), but Pixel Data declares " + pixel[1] + " bytes");
            }
            fragments = new ArrayList<>();
            offsets = p.fragments(fragments, limits.maxFrames() * 64L + 64);
        } else if (pixel[1] == UNDEFINED) {
            throw new DataException(
                    file,
                    "corrupt DICOM: encapsulated (undefined-length) Pixel Data in the"
                            + " uncompressed transfer syntax " + syntax);
        } else {
            p.need(pixel[2] + pixel[1], "Pixel Data (" + pixel[1] + " bytes declared)");
        }
        return new Info(
                syntax,
                sop,
                rows,
                columns,
                spp,
                photometric,
                planar,
                bitsAllocated,
                bitsStored,
                (int) frames,
                p.bigEndian,
                jpeg,
                pixel[2],
                pixel[1],
                fragments,
                offsets,
                spacing,
                note);
    }

    /** Uncompressed: Pixel Data must hold every declared frame. JPEG: the fragments must form the frames. */
    static void checkPixelData(Path file, byte[] b, Info info) {
        if (!info.jpeg()) {
            long need = info.frameBytes() * info.frames();
            if (info.pixelLength() < need) {
                throw new DataException(
                        file,
                        "truncated or corrupt DICOM: " + info.frames() + " frame(s) of "
                                + info.columns() + "x" + info.rows() + " " + info.photometric() + " at "
                                + info.bitsAllocated()
                                + " bits need " + need + " bytes of Pixel Data, the element holds "
                                + info.pixelLength());
            }
            return;
        }
        jpegFrames(file, b, info); // throws when they do not add up
    }

    /** Each JPEG frame as the fragments (offset, length) that make it up. */
    static List<List<long[]>> jpegFrames(Path file, byte[] b, Info info) {
        List<long[]> frags = info.fragments();
        int n = info.frames();
        List<List<long[]>> out = new ArrayList<>();
        if (frags.isEmpty()) {
            throw new DataException(file, "corrupt DICOM: encapsulated Pixel Data has no fragments");
        }
        if (n == 1) {
            out.add(frags);
        } else if (info.offsetTable().length > 0) {
            long[] table = info.offsetTable();
            if (table.length != n) {
                throw new DataException(
                        file,
                        "corrupt DICOM: the Basic Offset Table has " + table.length + " entries for " + n + " frames");
            }
            long first = frags.get(0)[0] - 8; // offsets count from the first fragment's item tag
            for (int f = 0; f < n; f++) {
                long start = first + table[f];
                long end = f + 1 < n ? first + table[f + 1] : Long.MAX_VALUE;
                List<long[]> frame = new ArrayList<>();
                for (long[] fr : frags) {
                    if (fr[0] - 8 >= start && fr[0] - 8 < end) {
                        frame.add(fr);
                    }
                }
                if (frame.isEmpty()) {
                    throw new DataException(
                            file,
                            "corrupt DICOM: Basic Offset Table entry " + f + " (" + table[f]
                                    + ") points at no fragment");
                }
                out.add(frame);
            }
        } else {
            for (long[] fr : frags) { // a new frame starts with a JPEG start-of-image marker
                if (out.isEmpty()
                        || (fr[1] >= 2 && (b[(int) fr[0]] & 0xFF) == 0xFF && (b[(int) fr[0] + 1] & 0xFF) == 0xD8)) {
                    out.add(new ArrayList<>());
                }
                out.get(out.size() - 1).add(fr);
            }
        }
        if (out.size() != n) {
            throw new DataException(
                    file,
                    "corrupt DICOM: Number of Frames is " + n + " but the encapsulated" + " Pixel Data holds "
                            + out.size() + " JPEG frame(s)");
        }
        return out;
    }

    private static PixelSpacing pixelSpacing(Path file, String v) {
        String[] parts = v.split("\\\\");
        try {
            if (parts.length == 2) {
                double row = Double.parseDouble(parts[0].trim());
                double col = Double.parseDouble(parts[1].trim());
                if (row > 0 && col > 0 && Double.isFinite(row) && Double.isFinite(col)) {
                    return new PixelSpacing(row, col, PixelSpacing.PIXEL_SPACING);
                }
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new DataException(
                file, "corrupt DICOM: Pixel Spacing (0028,0030) is '" + v + "', not two positive" + " numbers");
    }

    /**
     * The spacing of the ultrasound regions calibrated in centimetres in both directions, if they all agree;
     * otherwise the reason there is none (a String).
     */
    private static Object regionSpacing(Parser p, List<Map<Integer, long[]>> regions) {
        if (regions.isEmpty()) {
            return "the file has no Pixel Spacing and no ultrasound region calibration";
        }
        Set<List<Double>> distinct = new LinkedHashSet<>();
        for (Map<Integer, long[]> r : regions) {
            if (!r.containsKey(UNITS_X)
                    || !r.containsKey(UNITS_Y)
                    || !r.containsKey(DELTA_X)
                    || !r.containsKey(DELTA_Y)) {
                continue;
            }
            if (p.us(r.get(UNITS_X)) != UNITS_CM || p.us(r.get(UNITS_Y)) != UNITS_CM) {
                continue;
            }
            double dx = p.fd(r.get(DELTA_X));
            double dy = p.fd(r.get(DELTA_Y));
            if (dx > 0 && dy > 0 && Double.isFinite(dx) && Double.isFinite(dy)) {
                distinct.add(List.of(dy * 10, dx * 10));
            }
        }
        if (distinct.isEmpty()) {
            return "no ultrasound region is calibrated in centimetres";
        }
        if (distinct.size() > 1) {
            return "the ultrasound regions have " + distinct.size() + " different calibrations";
        }
        List<Double> s = distinct.iterator().next();
        return new PixelSpacing(s.get(0), s.get(1), PixelSpacing.ULTRASOUND_REGIONS);
    }

    private static long[] req(Map<Integer, long[]> top, int tag, Parser p, String name) {
        long[] e = top.get(tag);
        if (e == null) {
            throw new DataException(p.file, "corrupt DICOM: image has no " + name + " " + tagName(tag));
        }
        return e;
    }

    private static String req(Parser p, Map<Integer, long[]> top, int tag, String name) {
        return p.string(req(top, tag, p, name));
    }

    private static String sopClassText(Parser p, Map<Integer, long[]> top) {
        return top.containsKey(SOP_CLASS) ? " (SOP Class " + p.string(top.get(SOP_CLASS)) + ")" : "";
    }

    static String tagName(int tag) {
        return String.format("(%04X,%04X)", tag >>> 16, tag & 0xFFFF);
    }

    /** A cursor over the file's bytes; every read is bounds-checked. Elements are {tag, length, valueOffset}. */
    static final class Parser {
        final Path file;
        final byte[] b;
        int pos;
        boolean explicit;
        boolean bigEndian;

        Parser(Path file, byte[] b, int pos, boolean explicit, boolean bigEndian) {
            this.file = file;
            this.b = b;
            this.pos = pos;
            this.explicit = explicit;
            this.bigEndian = bigEndian;
        }

        void need(long end, String what) {
            if (end > b.length || end < 0) {
                throw new DataException(
                        file,
                        "truncated DICOM: the file has " + b.length + " bytes, too short for the " + what + " (needs "
                                + end + ")");
            }
        }

        int u16(long at) {
            need(at + 2, "data at byte " + at);
            int i = (int) at;
            return bigEndian ? ((b[i] & 0xFF) << 8) | (b[i + 1] & 0xFF) : (b[i] & 0xFF) | ((b[i + 1] & 0xFF) << 8);
        }

        long u32(long at) {
            long lo = u16(bigEndian ? at + 2 : at);
            long hi = u16(bigEndian ? at : at + 2);
            return (hi << 16) | lo;
        }

        int us(long[] e) {
            if (e[1] < 2) {
                throw new DataException(
                        file,
                        "corrupt DICOM: element " + tagName((int) e[0]) + " is " + e[1]
                                + " bytes long, too short for an unsigned short");
            }
            return u16(e[2]);
        }

        double fd(long[] e) {
            if (e[1] < 8) {
                throw new DataException(
                        file,
                        "corrupt DICOM: element " + tagName((int) e[0]) + " is " + e[1]
                                + " bytes long, too short for a double");
            }
            long hi = u32(bigEndian ? e[2] : e[2] + 4);
            long lo = u32(bigEndian ? e[2] + 4 : e[2]);
            return Double.longBitsToDouble((hi << 32) | lo);
        }

        String string(long[] e) {
            if (e[1] < 0 || e[1] > 1024) {
                throw new DataException(
                        file,
                        "corrupt DICOM: element " + tagName((int) e[0]) + " declares " + e[1]
                                + " bytes for a short text value");
            }
            need(e[2] + e[1], "element " + tagName((int) e[0]));
            String s = new String(b, (int) e[2], (int) e[1], StandardCharsets.ISO_8859_1);
            int end = s.length();
            while (end > 0 && (s.charAt(end - 1) == 0 || s.charAt(end - 1) == ' ')) {
                end--;
            }
            return s.substring(0, end).trim();
        }

        /** The element header at {@link #pos}: {tag, length (or -1 = undefined), value offset}; pos moves to the value. */
        long[] element() {
            need((long) pos + 8, "element header at byte " + pos);
            int tag = (u16(pos) << 16) | u16(pos + 2);
            long len;
            int value;
            if ((tag >>> 16) == 0xFFFE) { // items and delimiters carry no VR
                len = u32(pos + 4);
                value = pos + 8;
            } else if (explicit || (tag >>> 16) == 0x0002) {
                String vr = new String(b, pos + 4, 2, StandardCharsets.ISO_8859_1);
                if (!Character.isUpperCase(vr.charAt(0)) || !Character.isUpperCase(vr.charAt(1))) {
                    throw new DataException(
                            file,
                            "corrupt DICOM: element " + tagName(tag) + " at byte " + pos
                                    + " has no valid value representation (bytes '" + printable(vr) + "')");
                }
                if (LONG_VRS.contains(vr)) {
                    need((long) pos + 12, "element header at byte " + pos);
                    len = u32(pos + 8);
                    value = pos + 12;
                    if (vr.equals("UN") && len == 0xFFFFFFFFL) {
                        len = -2; // undefined-length UN: an implicit VR little endian sequence
                    }
                } else {
                    len = u16(pos + 6);
                    value = pos + 8;
                }
            } else {
                len = u32(pos + 4);
                value = pos + 8;
            }
            if (len == 0xFFFFFFFFL) {
                len = UNDEFINED;
            }
            pos = value;
            return new long[] {tag & 0xFFFFFFFFL, len, value};
        }

        /**
         * Reads elements up to {@code end} (or to an item delimiter when {@code end} is -1), keeping the
         * elements in {@code out} and the ultrasound regions' items in {@code regions} (top level only).
         * At the top level it stops at Pixel Data and returns that element; otherwise null.
         */
        long[] elements(long end, int depth, Map<Integer, long[]> out, List<Map<Integer, long[]>> regions) {
            if (depth > MAX_DEPTH) {
                throw new DataException(file, "corrupt DICOM: sequences nested deeper than " + MAX_DEPTH);
            }
            while (end < 0 || pos < end) {
                if (end >= 0 && pos + 8 > end) {
                    throw new DataException(
                            file,
                            "corrupt DICOM: an element header at byte " + pos
                                    + " crosses the end of its item or file (byte " + end + ")");
                }
                long[] e = element();
                int tag = (int) e[0];
                if (tag == ITEM_END) {
                    if (end >= 0) {
                        throw new DataException(
                                file,
                                "corrupt DICOM: item delimiter in an item of defined length at" + " byte " + (pos - 8));
                    }
                    return null;
                }
                if (tag == SEQUENCE_END || tag == ITEM) {
                    throw new DataException(
                            file,
                            "corrupt DICOM: unexpected " + (tag == ITEM ? "item" : "sequence" + " delimiter")
                                    + " at byte " + (pos - 8));
                }
                if (depth == 0 && tag == PIXEL_DATA) {
                    return e;
                }
                boolean wantRegions = depth == 0 && tag == US_REGIONS;
                if (e[1] == UNDEFINED || e[1] == -2) {
                    boolean wasExplicit = explicit;
                    boolean wasBig = bigEndian;
                    if (e[1] == -2) {
                        explicit = false;
                        bigEndian = false;
                    }
                    items(-1, depth + 1, wantRegions ? regions : null);
                    explicit = wasExplicit;
                    bigEndian = wasBig;
                } else {
                    long valueEnd = e[2] + e[1];
                    need(valueEnd, "value of element " + tagName(tag) + " (" + e[1] + " bytes declared)");
                    if (end >= 0 && valueEnd > end) {
                        throw new DataException(
                                file,
                                "corrupt DICOM: element " + tagName(tag) + " declares " + e[1]
                                        + " bytes, past the end of its item");
                    }
                    if (wantRegions) {
                        items(valueEnd, depth + 1, regions);
                    }
                    out.put(tag, e);
                    pos = (int) valueEnd;
                }
            }
            if (end < 0) {
                throw new DataException(file, "truncated DICOM: an item of undefined length has no delimiter");
            }
            return null;
        }

        /** The items of a sequence (kept in {@code keep} when not null), up to {@code end} or its delimiter. */
        void items(long end, int depth, List<Map<Integer, long[]>> keep) {
            if (depth > MAX_DEPTH) {
                throw new DataException(file, "corrupt DICOM: sequences nested deeper than " + MAX_DEPTH);
            }
            while (end < 0 || pos < end) {
                if (pos + 8 > b.length) {
                    throw new DataException(file, "truncated DICOM: a sequence of undefined length has no delimiter");
                }
                long[] e = element();
                int tag = (int) e[0];
                if (tag == SEQUENCE_END) {
                    return;
                }
                if (tag != ITEM) {
                    throw new DataException(
                            file,
                            "corrupt DICOM: expected an item in a sequence at byte " + (pos - 8) + ", found "
                                    + tagName(tag));
                }
                Map<Integer, long[]> item = new HashMap<>();
                if (e[1] == UNDEFINED) {
                    elements(-1, depth, item, null);
                } else {
                    long itemEnd = e[2] + e[1];
                    need(itemEnd, "sequence item (" + e[1] + " bytes declared)");
                    if (end >= 0 && itemEnd > end) {
                        throw new DataException(
                                file,
                                "corrupt DICOM: a sequence item declares " + e[1]
                                        + " bytes, past the end of its sequence");
                    }
                    elements(itemEnd, depth, item, null);
                    pos = (int) itemEnd;
                }
                if (keep != null) {
                    keep.add(item);
                }
            }
        }

        /** Encapsulated pixel data: the offset table, then fragments up to the sequence delimiter. */
        long[] fragments(List<long[]> out, long maxFragments) {
            long[] table = null;
            while (true) {
                if (pos + 8 > b.length) {
                    throw new DataException(
                            file,
                            "truncated DICOM: the encapsulated Pixel Data ends without its" + " sequence delimiter");
                }
                long[] e = element();
                int tag = (int) e[0];
                if (tag == SEQUENCE_END) {
                    break;
                }
                if (tag != ITEM || e[1] == UNDEFINED) {
                    throw new DataException(
                            file,
                            "corrupt DICOM: expected a fragment item in the encapsulated Pixel" + " Data at byte "
                                    + (pos - 8) + ", found " + tagName(tag));
                }
                need(e[2] + e[1], "Pixel Data fragment (" + e[1] + " bytes declared)");
                if (table == null) {
                    if (e[1] % 4 != 0) {
                        throw new DataException(
                                file,
                                "corrupt DICOM: the Basic Offset Table is " + e[1] + " bytes, not a multiple of 4");
                    }
                    table = new long[(int) (e[1] / 4)];
                    for (int i = 0; i < table.length; i++) {
                        table[i] = u32(e[2] + 4L * i);
                    }
                } else {
                    if (out.size() >= maxFragments) {
                        throw new DataException(
                                file,
                                "DICOM Pixel Data has more than " + maxFragments
                                        + " fragments; refused (possible frame bomb)");
                    }
                    out.add(new long[] {e[2], e[1]});
                }
                pos = (int) (e[2] + e[1]);
            }
            return table == null ? new long[0] : table;
        }

        private static String printable(String s) {
            StringBuilder o = new StringBuilder();
            for (char c : s.toCharArray()) {
                o.append(c >= 32 && c < 127 ? String.valueOf(c) : String.format("\\x%02X", (int) c));
            }
            return o.toString();
        }
    }
}
