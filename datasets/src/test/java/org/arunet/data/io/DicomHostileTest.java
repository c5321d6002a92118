package org.arunet.data.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile DICOM files, with the rules of the other readers (docs/RELIABILITY.md): each is refused with a
 * {@link DataException} naming the file, nothing else is thrown, and bombs are refused from the header,
 * before a pixel buffer is allocated (the messages say so, and a reader with a 1 MiB file limit shows
 * that nothing near the declared size is ever read or made).
 */
class DicomHostileTest {
    @TempDir
    static Path dir;

    private static final ImageReader READER = new ImageReader();

    private static Path file(String name, byte[] b) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, b);
        return f;
    }

    /** Refused as image, as frames and as mask, naming the file, with every fragment in the message. */
    private static void refused(Path f, String... fragments) {
        for (int how = 0; how < 3; how++) {
            try {
                switch (how) {
                    case 0 -> READER.readImage(f, ColorMode.AUTO);
                    case 1 -> {
                        ImageFrames fr = READER.open(f, ColorMode.AUTO);
                        for (int i = 0; i < fr.count(); i++) {
                            fr.frame(i);
                        }
                    }
                    default -> READER.readMask(f, 2);
                }
                throw new AssertionError(f + " was accepted (" + how + ")");
            } catch (DataException e) {
                assertEquals(f, e.file(), e.getMessage());
                for (String x : fragments) {
                    assertTrue(e.getMessage().contains(x), e.getMessage());
                }
            }
        }
    }

    private static DicomFiles valid() {
        DicomFiles d = new DicomFiles(12, 10);
        d.pixels = DicomReaderTest.grey8(10, 12, 1);
        d.pixelSpacing = "0.1\\0.1";
        d.regions.add(new double[] {3, 3, 0.01, 0.01});
        return d;
    }

    @Test
    void truncatedAtEveryLength() throws IOException {
        for (DicomFiles d : List.of(valid(), jpegValid())) {
            byte[] whole = d.bytes();
            for (int len = 0; len < whole.length; len += (len < 400 ? 1 : 7)) {
                Path f = file("cut.dcm", Arrays.copyOf(whole, len));
                try {
                    READER.readImage(f, ColorMode.AUTO);
                    throw new AssertionError("accepted " + len + " of " + whole.length + " bytes");
                } catch (DataException e) {
                    assertEquals(f, e.file(), e.getMessage());
                }
            }
        }
        refused(file("cut-pixels.dcm", Arrays.copyOf(valid().bytes(), valid().bytes().length - 5)), "truncated DICOM");
    }

    private static DicomFiles jpegValid() {
        BufferedImage g = new BufferedImage(10, 12, BufferedImage.TYPE_BYTE_GRAY);
        g.getRaster().setSample(3, 3, 0, 200);
        DicomFiles d = new DicomFiles(12, 10);
        d.syntax = Dicom.JPEG_BASELINE;
        d.jpegFrames = List.of(DicomFiles.jpeg(g));
        return d;
    }

    @Test
    void wrongLengthFields() throws IOException {
        DicomFiles d = valid();
        d.pixelLengthOverride = 60; // 10 x 12 needs 120 bytes
        refused(file("short-pixel-length.dcm", d.bytes()), "need 120 bytes of Pixel Data, the element holds 60");

        DicomFiles far = valid();
        far.pixelLengthOverride = 0x7FFFFFF0L; // points far past the end of the file
        refused(file("pixel-length-past-end.dcm", far.bytes()), "truncated DICOM");

        byte[] b = valid().bytes();
        int at = indexOf(b, new byte[] {0x28, 0x00, 0x10, 0x00, 'U', 'S'}); // Rows, explicit VR: length next
        b[at + 6] = (byte) 0xFF;
        b[at + 7] = (byte) 0x7F; // Rows declares 32767 value bytes
        refused(file("rows-length.dcm", b), "DICOM");

        byte[] v = valid().bytes();
        int vr = indexOf(v, new byte[] {0x28, 0x00, 0x04, 0x00, 'C', 'S'});
        v[vr + 4] = 0x01; // a value representation of control characters
        refused(file("bad-vr.dcm", v), "no valid value representation");

        DicomFiles deep = valid();
        deep.nestedDepth = 40;
        refused(file("deep.dcm", deep.bytes()), "nested deeper than");

        DicomFiles noPixels = valid();
        noPixels.pixels = new byte[0];
        noPixels.pixelLengthOverride = 0;
        refused(file("empty-pixels.dcm", noPixels.bytes()), "need 120 bytes");
    }

    @Test
    void hugeRowsAndColumnsAreRefusedBeforeDecoding() throws IOException {
        DicomFiles d = new DicomFiles(65535, 65535);
        d.pixels = new byte[64];
        refused(file("huge.dcm", d.bytes()), "65535x65535", "possible decompression bomb");
        DicomFiles j = jpegValid();
        j.rows = 60000;
        j.columns = 60000;
        refused(file("huge-jpeg.dcm", j.bytes()), "possible decompression bomb");
        DicomFiles zero = valid();
        zero.rows = 0;
        refused(file("zero.dcm", zero.bytes()), "zero-size image");
    }

    @Test
    void framesBombsAreRefusedFromTheHeader() throws IOException {
        DicomFiles d = valid();
        d.frames = "2000000000";
        refused(file("frames-bomb.dcm", d.bytes()), "2000000000 frames", "possible frame bomb");
        DicomFiles few = valid();
        few.frames = "5000"; // within the frame limit, but Pixel Data holds one frame
        refused(file("frames-short.dcm", few.bytes()), "5000 frame(s)", "need 600000 bytes");
        DicomFiles j = jpegValid();
        j.frames = "9";
        refused(file("frames-jpeg.dcm", j.bytes()), "Number of Frames is 9", "1 JPEG frame(s)");
        DicomFiles neg = valid();
        neg.frames = "-3";
        refused(file("frames-negative.dcm", neg.bytes()), "Number of Frames");
        DicomFiles text = valid();
        text.frames = "lots";
        refused(file("frames-text.dcm", text.bytes()), "'lots', not a number");
        ImageReader strict = new ImageReader(new ImageLimits(1 << 20, 4096, 1 << 20, 4));
        DicomFiles five = valid();
        five.frames = "5";
        five.pixels = DicomReaderTest.grey8(10, 60, 2);
        Path f = file("five-frames.dcm", five.bytes());
        DataException e = org.junit.jupiter.api.Assertions.assertThrows(
                DataException.class, () -> strict.open(f, ColorMode.AUTO));
        assertTrue(e.getMessage().contains("beyond the limit of 4"), e.getMessage());
        assertEquals(5, READER.open(f, ColorMode.AUTO).count());
    }

    @Test
    void corruptJpegFramesAreRefusedNamingTheFrame() throws IOException {
        DicomFiles d = jpegValid();
        byte[] jpeg = d.jpegFrames.get(0);
        d.jpegFrames = List.of(Arrays.copyOf(jpeg, jpeg.length - 40)); // no end-of-image marker
        refused(file("jpeg-cut.dcm", d.bytes()), "DICOM frame 1", "JPEG");
        DicomFiles other = jpegValid();
        other.rows = 13; // the JPEG is 10 x 12
        refused(file("jpeg-size.dcm", other.bytes()), "the object declares 10x13");
        DicomFiles notJpeg = jpegValid();
        notJpeg.jpegFrames = List.of("definitely not a JPEG".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        refused(file("jpeg-garbage.dcm", notJpeg.bytes()), "DICOM frame 1");
    }

    @Test
    void randomMutationsAreDecodedOrRefusedNamingTheFile() throws IOException {
        Random r = new Random(42);
        List<byte[]> seeds = List.of(valid().bytes(), jpegValid().bytes());
        Path f = dir.resolve("mutant");
        for (int i = 0; i < 600; i++) {
            byte[] b = seeds.get(i % 2).clone();
            for (int k = 0, n = 1 + r.nextInt(6); k < n; k++) {
                int at = 128 + r.nextInt(b.length - 128);
                b[at] = (byte) (r.nextInt(4) == 0 ? 0xFF : r.nextInt(256));
            }
            Files.write(f, b);
            try {
                ImageFrames fr = READER.open(f, ColorMode.AUTO);
                for (int k = 0; k < fr.count(); k++) {
                    Raster x = fr.frame(k);
                    assertEquals(fr.header().width(), x.width());
                    assertEquals(fr.header().height(), x.height());
                }
            } catch (DataException e) {
                assertEquals(f, e.file(), e.getMessage());
            }
        }
    }

    static int indexOf(byte[] b, byte[] pattern) {
        outer:
        for (int i = 132; i <= b.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (b[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("pattern not found");
    }
}
