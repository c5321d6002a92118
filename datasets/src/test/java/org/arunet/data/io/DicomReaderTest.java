package org.arunet.data.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ij.ImagePlus;
import ij.plugin.DICOM;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.SegmentationDataset;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * DICOM input: every supported case written by {@link DicomFiles}, read back pixel for pixel, and the
 * plain ones also read by ImageJ's DICOM reader (an independent implementation) so that the writer and
 * the reader cannot share a misreading of the standard. The hostile cases are in {@link DicomHostileTest}.
 */
class DicomReaderTest {
    @TempDir
    static Path dir;

    private static final ImageReader READER = new ImageReader();

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    static byte[] grey8(int w, int h, long seed) {
        byte[] b = new byte[w * h];
        new Random(seed).nextBytes(b);
        return b;
    }

    static Path write(String name, byte[] content) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, content);
        return f;
    }

    private static ImagePlus imageJ(Path f) {
        DICOM d = new DICOM();
        d.open(f.toString());
        assertTrue(d.getWidth() > 0, "ImageJ could not read " + f);
        return d;
    }

    @Test
    void singleFrameMonochrome2EightBitAsImageJReadsIt() throws IOException {
        DicomFiles d = new DicomFiles(20, 30);
        d.pixels = grey8(30, 20, 1);
        d.pixelSpacing = "0.1\\0.2";
        Path f = write("mono8.dcm", d.bytes());

        Raster r = READER.readImage(f, ColorMode.AUTO);
        assertEquals(30, r.width());
        assertEquals(20, r.height());
        assertEquals(1, r.channels());
        assertEquals(8, r.bitDepth());
        assertTrue(Arrays.equals(d.pixels, r.data()));
        ImageFrames frames = READER.open(f, ColorMode.AUTO);
        assertEquals(1, frames.count());
        assertEquals(
                new PixelSpacing(0.1, 0.2, PixelSpacing.PIXEL_SPACING),
                frames.spacing().orElseThrow());
        assertEquals(ImageFormat.DICOM, READER.header(f).format());

        ImagePlus ij = imageJ(f);
        assertEquals(30, ij.getWidth());
        assertEquals(20, ij.getHeight());
        byte[] ijPixels = (byte[]) ij.getProcessor().getPixels();
        assertTrue(Arrays.equals(d.pixels, ijPixels), "ImageJ reads other pixels than we do");
        assertEquals(0.2, ij.getCalibration().pixelWidth, 1e-9, "ImageJ: column spacing is pixel width");
        assertEquals(0.1, ij.getCalibration().pixelHeight, 1e-9);

        Raster rgb = READER.readImage(f, ColorMode.RGB);
        assertEquals(3, rgb.channels());
        assertEquals(r.sample(7), rgb.sample(21));
    }

    @Test
    void sixteenBitInEveryUncompressedSyntaxWithStoredBitsScaled() throws IOException {
        int w = 16;
        int h = 9;
        int[] values = new Random(2).ints(w * h, 0, 4096).toArray();
        for (String syntax : new String[] {Dicom.IMPLICIT_LE, Dicom.EXPLICIT_LE, Dicom.EXPLICIT_BE}) {
            boolean big = syntax.equals(Dicom.EXPLICIT_BE);
            DicomFiles d = new DicomFiles(h, w);
            d.syntax = syntax;
            d.bitsAllocated = 16;
            d.bitsStored = 12;
            d.pixels = new byte[2 * w * h];
            for (int i = 0; i < values.length; i++) {
                int v = values[i] | (0xA000); // bits above Bits Stored hold garbage (overlay bits) and are ignored
                d.pixels[2 * i] = (byte) (big ? v >>> 8 : v);
                d.pixels[2 * i + 1] = (byte) (big ? v : v >>> 8);
            }
            Path f = write("mono16-" + syntax + ".dcm", d.bytes());
            Raster r = READER.readImage(f, ColorMode.AUTO);
            assertEquals(16, r.bitDepth(), syntax);
            for (int i = 0; i < values.length; i++) {
                assertEquals(Math.round(values[i] * 65535.0 / 4095), r.sample(i), syntax + " pixel " + i);
            }
            if (!big) { // ImageJ reads big endian too, but shows the overlay bits; compare the little-endian ones
                ImagePlus ij = imageJ(f);
                short[] px = (short[]) ij.getProcessor().getPixels();
                for (int i = 0; i < values.length; i++) {
                    assertEquals(values[i], (px[i] & 0xFFFF) & 0x0FFF, syntax + " ImageJ pixel " + i);
                }
            }
        }
    }

    @Test
    void monochrome1IsInverted() throws IOException {
        DicomFiles d = new DicomFiles(4, 4);
        d.photometric = "MONOCHROME1";
        d.pixels = grey8(4, 4, 3);
        Raster r = READER.readImage(write("mono1.dcm", d.bytes()), ColorMode.AUTO);
        for (int i = 0; i < 16; i++) {
            assertEquals(255 - (d.pixels[i] & 0xFF), r.sample(i));
        }
    }

    @Test
    void rgbInterleavedAndPlanarAndYbrFullAndYbrFull422() throws IOException {
        int w = 6;
        int h = 5;
        byte[] rgb = grey8(3 * w, h, 4);
        for (int planar = 0; planar < 2; planar++) {
            DicomFiles d = new DicomFiles(h, w);
            d.photometric = "RGB";
            d.samplesPerPixel = 3;
            d.planar = planar;
            d.pixels = planar == 0 ? rgb : toPlanar(rgb, w * h);
            Path f = write("rgb" + planar + ".dcm", d.bytes());
            Raster r = READER.readImage(f, ColorMode.RGB);
            assertTrue(Arrays.equals(rgb, r.data()), "planar " + planar);
            int[] ij = (int[]) imageJ(f).getProcessor().getPixels();
            for (int p = 0; p < w * h; p++) {
                int expected = ((rgb[3 * p] & 0xFF) << 16) | ((rgb[3 * p + 1] & 0xFF) << 8) | (rgb[3 * p + 2] & 0xFF);
                assertEquals(expected, ij[p] & 0xFFFFFF, "ImageJ, planar " + planar + ", pixel " + p);
            }
        }
        // YBR_FULL: every pixel its own Cb, Cr; YBR_FULL_422: one Cb, Cr per pair of pixels.
        byte[] ybr = new byte[3 * w * h];
        for (int p = 0; p < w * h; p++) {
            int[] y = ybrOf(rgb[3 * p] & 0xFF, rgb[3 * p + 1] & 0xFF, rgb[3 * p + 2] & 0xFF);
            ybr[3 * p] = (byte) y[0];
            ybr[3 * p + 1] = (byte) y[1];
            ybr[3 * p + 2] = (byte) y[2];
        }
        DicomFiles full = new DicomFiles(h, w);
        full.photometric = "YBR_FULL";
        full.samplesPerPixel = 3;
        full.planar = 0;
        full.pixels = ybr;
        Raster r = READER.readImage(write("ybr.dcm", full.bytes()), ColorMode.RGB);
        for (int i = 0; i < rgb.length; i++) {
            assertTrue(Math.abs((rgb[i] & 0xFF) - r.sample(i)) <= 2, "YBR_FULL sample " + i);
        }
        byte[] y422 = new byte[2 * w * h];
        for (int p = 0; p < w * h; p += 2) {
            y422[2 * p] = ybr[3 * p];
            y422[2 * p + 1] = ybr[3 * (p + 1)];
            y422[2 * p + 2] = ybr[3 * p + 1];
            y422[2 * p + 3] = ybr[3 * p + 2];
        }
        DicomFiles half = new DicomFiles(h, w);
        half.photometric = "YBR_FULL_422";
        half.samplesPerPixel = 3;
        half.planar = 0;
        half.pixels = y422;
        Raster r2 = READER.readImage(write("ybr422.dcm", half.bytes()), ColorMode.RGB);
        for (int p = 0; p < w * h; p += 2) {
            for (int c = 0; c < 3; c++) { // the first pixel of each pair keeps its own chroma
                assertTrue(Math.abs((rgb[3 * p + c] & 0xFF) - r2.sample(3L * p + c)) <= 2, "YBR_FULL_422 " + p);
            }
        }
    }

    @Test
    void multiFrameIsReadFrameByFrameAndRefusedWhereOneImageIsExpected() throws IOException {
        int w = 8;
        int h = 6;
        DicomFiles d = new DicomFiles(h, w);
        d.sopClass = DicomFiles.US_MULTIFRAME;
        d.frames = "3";
        d.pixels = grey8(w, h * 3, 5);
        Path f = write("cine.dcm", d.bytes());
        ImageFrames frames = READER.open(f, ColorMode.AUTO);
        assertEquals(3, frames.count());
        for (int i = 0; i < 3; i++) {
            assertTrue(
                    Arrays.equals(
                            Arrays.copyOfRange(d.pixels, i * w * h, (i + 1) * w * h),
                            frames.frame(i).data()),
                    "frame " + i);
        }
        assertEquals(3, imageJ(f).getStackSize());
        DataException e = assertThrows(DataException.class, () -> READER.readImage(f, ColorMode.AUTO));
        assertEquals(f, e.file());
        assertTrue(e.getMessage().contains("multi-frame DICOM (3 frames)"), e.getMessage());
        assertThrows(DataException.class, () -> READER.readMask(f, 2));
    }

    @Test
    void jpegBaselineGreyColourAndMultiFrameWithAndWithoutOffsetTable() throws IOException {
        BufferedImage grey = new BufferedImage(32, 24, BufferedImage.TYPE_BYTE_GRAY);
        BufferedImage colour = new BufferedImage(32, 24, BufferedImage.TYPE_3BYTE_BGR);
        Random rnd = new Random(6);
        for (int y = 0; y < 24; y++) {
            for (int x = 0; x < 32; x++) {
                grey.getRaster().setSample(x, y, 0, (x * 8 + y * 3) & 0xFF);
                colour.setRGB(x, y, ((x * 8) << 16) | ((y * 10) << 8) | rnd.nextInt(40));
            }
        }
        byte[] gj = DicomFiles.jpeg(grey);
        byte[] cj = DicomFiles.jpeg(colour);

        DicomFiles g = new DicomFiles(24, 32);
        g.syntax = Dicom.JPEG_BASELINE;
        g.jpegFrames = List.of(gj);
        g.fragmentsPerFrame = 3; // one frame over several fragments
        Path gf = write("jpeg-grey.dcm", g.bytes());
        Raster r = READER.readImage(gf, ColorMode.AUTO);
        assertEquals(1, r.channels());
        assertClose(ImageIO.read(new ByteArrayInputStream(gj)), r, 2);
        // (ImageJ 1.54p opens no compressed DICOM; the JDK's own JPEG decoder is the independent check here.)

        DicomFiles c = new DicomFiles(24, 32);
        c.syntax = Dicom.JPEG_BASELINE;
        c.photometric = "YBR_FULL_422";
        c.samplesPerPixel = 3;
        c.planar = 0;
        c.jpegFrames = List.of(cj);
        Raster rc = READER.readImage(write("jpeg-colour.dcm", c.bytes()), ColorMode.RGB);
        assertEquals(3, rc.channels());
        assertClose(ImageIO.read(new ByteArrayInputStream(cj)), rc, 3);

        for (boolean table : new boolean[] {true, false}) {
            DicomFiles m = new DicomFiles(24, 32);
            m.syntax = Dicom.JPEG_BASELINE;
            m.sopClass = DicomFiles.US_MULTIFRAME;
            m.frames = "2";
            m.jpegFrames = List.of(gj, DicomFiles.jpeg(invert(grey)));
            m.fragmentsPerFrame = 2;
            m.offsetTable = table;
            ImageFrames frames = READER.open(write("jpeg-cine-" + table + ".dcm", m.bytes()), ColorMode.AUTO);
            assertEquals(2, frames.count());
            assertClose(grey, frames.frame(0), 4);
            assertClose(invert(grey), frames.frame(1), 4);
        }
    }

    @Test
    void spacingFromUltrasoundRegionsInCentimetresAndNoGuessOtherwise() throws IOException {
        for (boolean undefined : new boolean[] {true, false}) {
            for (String syntax : new String[] {Dicom.EXPLICIT_LE, Dicom.IMPLICIT_LE, Dicom.EXPLICIT_BE}) {
                DicomFiles d = new DicomFiles(10, 12);
                d.syntax = syntax;
                d.pixels = grey8(12, 10, 7);
                d.regions.add(new double[] {3, 3, 0.015, 0.02}); // cm per pixel: x 0.15 mm, y 0.2 mm
                d.regions.add(new double[] {0, 0, 1, 1}); // an uncalibrated region (e.g. a Doppler strip) is ignored
                d.regionsUndefinedLength = undefined;
                ImageFrames f = READER.open(write("regions-" + undefined + syntax + ".dcm", d.bytes()), ColorMode.AUTO);
                PixelSpacing s = f.spacing().orElseThrow();
                assertEquals(0.2, s.rowMm(), 1e-12, syntax);
                assertEquals(0.15, s.columnMm(), 1e-12, syntax);
                assertEquals(PixelSpacing.ULTRASOUND_REGIONS, s.source());
            }
        }
        DicomFiles two = new DicomFiles(10, 12);
        two.pixels = grey8(12, 10, 8);
        two.regions.add(new double[] {3, 3, 0.015, 0.02});
        two.regions.add(new double[] {3, 3, 0.03, 0.03});
        ImageFrames f = READER.open(write("regions-disagree.dcm", two.bytes()), ColorMode.AUTO);
        assertTrue(f.spacing().isEmpty());
        assertTrue(f.noSpacingReason().contains("2 different calibrations"), f.noSpacingReason());

        DicomFiles none = new DicomFiles(10, 12);
        none.pixels = grey8(12, 10, 9);
        ImageFrames n = READER.open(write("no-spacing.dcm", none.bytes()), ColorMode.AUTO);
        assertTrue(n.spacing().isEmpty());
        assertTrue(n.noSpacingReason().contains("no Pixel Spacing"), n.noSpacingReason());

        Path png = TestImagesBridge.png(dir.resolve("plain.png"));
        ImageFrames p = READER.open(png, ColorMode.AUTO);
        assertTrue(p.spacing().isEmpty());
        assertEquals("a PNG file states no pixel spacing", p.noSpacingReason());
    }

    @Test
    void otherTransferSyntaxesAndPhotometricsAreRefusedByName() throws IOException {
        DicomFiles d = new DicomFiles(4, 4);
        d.pixels = grey8(4, 4, 10);
        d.syntax = "1.2.840.10008.1.2.4.91";
        Path f = write("j2k.dcm", d.bytes());
        DataException e = assertThrows(DataException.class, () -> READER.readImage(f, ColorMode.AUTO));
        assertEquals(f, e.file());
        assertTrue(e.getMessage().contains("1.2.840.10008.1.2.4.91 (JPEG 2000)"), e.getMessage());
        d.syntax = "1.2.840.10008.1.2.5";
        Path rle = write("rle.dcm", d.bytes());
        assertTrue(assertThrows(DataException.class, () -> READER.readImage(rle, ColorMode.AUTO))
                .getMessage()
                .contains("RLE Lossless"));

        DicomFiles pal = new DicomFiles(4, 4);
        pal.pixels = grey8(4, 4, 11);
        pal.photometric = "PALETTE COLOR";
        Path pf = write("palette.dcm", pal.bytes());
        assertTrue(assertThrows(DataException.class, () -> READER.readImage(pf, ColorMode.AUTO))
                .getMessage()
                .contains("'PALETTE COLOR' is not supported"));
    }

    @Test
    void aDicomWithoutExtensionIsAnImageAndDicomImagesTrainLikePngs() throws IOException {
        Path data = dir.resolve("dicom-data");
        Files.createDirectories(data.resolve("images"));
        Files.createDirectories(data.resolve("masks"));
        for (int i = 0; i < 3; i++) {
            DicomFiles d = new DicomFiles(16, 16);
            d.pixels = grey8(16, 16, 20 + i);
            Path img = data.resolve("images").resolve(i == 0 ? "IM000001" : "scan" + i + ".dcm");
            Files.write(img, d.bytes());
            BufferedImage mask = new BufferedImage(16, 16, BufferedImage.TYPE_BYTE_GRAY);
            mask.getRaster().setSample(4, 5, 0, 255);
            ImageIO.write(
                    mask,
                    "png",
                    data.resolve("masks")
                            .resolve((i == 0 ? "IM000001" : "scan" + i) + ".png")
                            .toFile());
        }
        assertTrue(ImageFormat.isImageFile(data.resolve("images").resolve("IM000001")));
        Files.writeString(data.resolve("README"), "not an image");
        assertFalse(ImageFormat.isImageFile(data.resolve("README")));
        SegmentationDataset ds = Datasets.scan(data);
        assertEquals(3, ds.size());
        ImagePair pair = READER.readPair(
                data.resolve("images").resolve("IM000001"),
                List.of(data.resolve("masks").resolve("IM000001.png")),
                ColorMode.GREY,
                2);
        assertEquals(1, pair.mask().get(4, 5, 0));

        DicomFiles mask = new DicomFiles(16, 16); // a DICOM mask reads like a PNG one
        mask.pixels = new byte[256];
        mask.pixels[3] = (byte) 255;
        Raster m = READER.readMask(write("mask.dcm", mask.bytes()), 2);
        assertEquals(1, m.sample(3));
        assertEquals(0, m.sample(4));
    }

    // ---- helpers

    private static byte[] toPlanar(byte[] rgb, int n) {
        byte[] out = new byte[rgb.length];
        for (int p = 0; p < n; p++) {
            for (int c = 0; c < 3; c++) {
                out[c * n + p] = rgb[3 * p + c];
            }
        }
        return out;
    }

    private static int[] ybrOf(int r, int g, int b) {
        double y = 0.299 * r + 0.587 * g + 0.114 * b;
        double cb = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
        double cr = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
        return new int[] {clamp(y), clamp(cb), clamp(cr)};
    }

    private static int clamp(double v) {
        return (int) Math.max(0, Math.min(255, Math.round(v)));
    }

    private static BufferedImage invert(BufferedImage grey) {
        BufferedImage out = new BufferedImage(grey.getWidth(), grey.getHeight(), BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < grey.getHeight(); y++) {
            for (int x = 0; x < grey.getWidth(); x++) {
                out.getRaster().setSample(x, y, 0, 255 - grey.getRaster().getSample(x, y, 0));
            }
        }
        return out;
    }

    /** Mean absolute difference per sample at most {@code tolerance} (JPEG decoders round differently). */
    private static void assertClose(BufferedImage expected, Raster r, double tolerance) {
        assertEquals(expected.getWidth(), r.width());
        assertEquals(expected.getHeight(), r.height());
        double sum = 0;
        for (int y = 0; y < r.height(); y++) {
            for (int x = 0; x < r.width(); x++) {
                int argb = expected.getRGB(x, y);
                if (r.channels() == 1) { // (getRGB would convert linear grey to sRGB)
                    sum += Math.abs(expected.getRaster().getSample(x, y, 0) - r.get(x, y, 0));
                } else {
                    sum += Math.abs(((argb >> 16) & 0xFF) - r.get(x, y, 0))
                            + Math.abs(((argb >> 8) & 0xFF) - r.get(x, y, 1))
                            + Math.abs((argb & 0xFF) - r.get(x, y, 2));
                }
            }
        }
        double mean = sum / r.samples();
        assertTrue(mean <= tolerance, "mean difference " + mean);
    }

    /** A PNG through {@code TestImages} (in another package of the tests). */
    private static final class TestImagesBridge {
        static Path png(Path f) {
            return org.arunet.data.testing.TestImages.write(f, org.arunet.data.testing.TestImages.noise(8, 8, 1, 8, 1));
        }
    }
}
