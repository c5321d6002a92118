package org.arunet.data.io;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMWRITE_JPEG_QUALITY;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ImageReaderTest {
    @TempDir
    Path dir;

    private final ImageReader reader = new ImageReader();

    @ParameterizedTest
    @ValueSource(strings = {"png", "bmp", "tif"})
    void losslessGreyAndRgbRoundTrip(String ext) {
        Raster grey = TestImages.noise(33, 17, 1, 8, 1);
        Raster rgb = TestImages.noise(33, 17, 3, 8, 2);
        Raster g = reader.readImage(TestImages.write(dir.resolve("g." + ext), grey), ColorMode.AUTO);
        assertEquals(1, g.channels());
        assertArrayEquals(grey.data(), g.data(), ext + " grey");
        Raster c = reader.readImage(TestImages.write(dir.resolve("c." + ext), rgb), ColorMode.AUTO);
        assertEquals(3, c.channels());
        assertArrayEquals(rgb.data(), c.data(), ext + " RGB must come back in RGB order");
    }

    @Test
    void bytesInMemoryReadAsTheirFileAndAreCheckedAlike() throws Exception {
        Raster rgb = TestImages.noise(21, 13, 3, 8, 9);
        Path f = TestImages.write(dir.resolve("m.png"), rgb);
        byte[] bytes = java.nio.file.Files.readAllBytes(f);
        Path name = Path.of("hdfs-archive/m.png");
        ImageFrames frames = reader.open(name, bytes, ColorMode.AUTO);
        assertEquals(name, frames.file());
        assertArrayEquals(
                reader.readImage(f, ColorMode.AUTO).data(), frames.frame(0).data());
        DataException e = assertThrows(DataException.class, () -> new ImageReader(new ImageLimits(1L << 20, 1024, 100))
                .open(name, bytes, ColorMode.AUTO));
        assertTrue(e.getMessage().startsWith(name + ": file is " + bytes.length + " bytes"), e.getMessage());
        e = assertThrows(DataException.class, () -> reader.open(name, new byte[] {1, 2, 3}, ColorMode.AUTO));
        assertTrue(e.getMessage().startsWith(name + ": "), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"png", "tif"})
    void sixteenBitSamplesAreKept(String ext) {
        Raster r = TestImages.noise(20, 11, 1, 16, 4);
        Raster back = reader.readImage(TestImages.write(dir.resolve("d16." + ext), r), ColorMode.GREY);
        assertEquals(16, back.bitDepth());
        assertArrayEquals(r.data(), back.data());
        Raster rgb16 = TestImages.noise(8, 5, 3, 16, 5);
        Raster c = reader.readImage(TestImages.write(dir.resolve("c16." + ext), rgb16), ColorMode.RGB);
        assertEquals(16, c.bitDepth());
        assertArrayEquals(rgb16.data(), c.data());
    }

    @Test
    void jpegIsDecodedCloseToTheOriginal() {
        Raster grey = TestImages.pattern(64, 48, 1, 3);
        Raster rgb = TestImages.pattern(64, 48, 3, 4);
        Raster g = reader.readImage(
                TestImages.write(dir.resolve("g.jpg"), grey, new int[] {IMWRITE_JPEG_QUALITY, 98}), ColorMode.AUTO);
        assertEquals(1, g.channels());
        assertTrue(meanAbsDiff(grey, g) < 2.0, "grey JPEG error " + meanAbsDiff(grey, g));
        Raster c = reader.readImage(
                TestImages.write(dir.resolve("c.jpg"), rgb, new int[] {IMWRITE_JPEG_QUALITY, 98}), ColorMode.RGB);
        assertEquals(3, c.channels());
        assertTrue(meanAbsDiff(rgb, c) < 3.0, "RGB JPEG error " + meanAbsDiff(rgb, c));
    }

    @Test
    void rgbaIsCompositedOverBlack() {
        Raster rgb = TestImages.noise(16, 8, 3, 8, 7);
        Raster alpha = Raster.zeros8(16, 8, 1);
        for (int p = 0; p < 128; p++) {
            alpha.setSample(p, p % 3 == 0 ? 0 : p % 3 == 1 ? 255 : 128);
        }
        Raster back = reader.readImage(TestImages.writeRgba(dir.resolve("rgba.png"), rgb, alpha), ColorMode.RGB);
        assertEquals(3, back.channels());
        for (int p = 0; p < 128; p++) {
            for (int c = 0; c < 3; c++) {
                int expected = rgb.sample(3L * p + c) * alpha.sample(p) / 255;
                assertEquals(expected, back.sample(3L * p + c), "pixel " + p + " channel " + c);
            }
        }
    }

    @Test
    void paletteAndOneBitImagesReadAsPictures() {
        Raster idx = TestImages.threshold(TestImages.pattern(24, 12, 1, 1), 90);
        Raster pal = reader.readImage(TestImages.writePalette(dir.resolve("pal.png"), idx, 3), ColorMode.RGB);
        assertEquals(3, pal.channels());
        for (int p = 0; p < 24 * 12; p++) { // index 1 has colour (215, 30, 120) in TestImages' palette
            int expected = idx.sample(p) == 1 ? 215 : 0;
            assertEquals(expected, pal.sample(3L * p), "red of pixel " + p);
        }
        Raster bits = TestImages.discs(19, 13, 3, 2);
        Raster one = reader.readImage(TestImages.write1Bit(dir.resolve("bit.png"), bits), ColorMode.GREY);
        assertArrayEquals(bits.data(), one.data(), "1-bit PNG reads as 0/255 grey");
    }

    @Test
    void colourModes() {
        Raster grey = TestImages.noise(10, 10, 1, 8, 11);
        Raster rgbOfGrey = new Raster(10, 10, 3, 8, new byte[300]);
        for (int p = 0; p < 100; p++) {
            for (int c = 0; c < 3; c++) {
                rgbOfGrey.setSample(3L * p + c, grey.sample(p));
            }
        }
        Path f = TestImages.write(dir.resolve("rgbgrey.png"), rgbOfGrey);
        Raster auto = reader.readImage(f, ColorMode.AUTO);
        assertEquals(1, auto.channels(), "three equal channels are stored as grey");
        assertArrayEquals(grey.data(), auto.data());
        Raster rgb = reader.readImage(TestImages.write(dir.resolve("g.png"), grey), ColorMode.RGB);
        assertArrayEquals(rgbOfGrey.data(), rgb.data(), "grey is replicated to RGB");
        Raster colour = TestImages.noise(10, 10, 3, 8, 12);
        Raster y = reader.readImage(TestImages.write(dir.resolve("col.png"), colour), ColorMode.GREY);
        for (int p = 0; p < 100; p++) {
            long i = 3L * p;
            int expected = (int)
                    Math.round(0.299 * colour.sample(i) + 0.587 * colour.sample(i + 1) + 0.114 * colour.sample(i + 2));
            assertEquals(expected, y.sample(p));
        }
    }

    @Test
    void binaryMasksTreatAnyPositiveValueAsLesion() {
        Raster m = TestImages.discs(30, 20, 3, 5);
        Raster expected = TestImages.threshold(m, 0);
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write(dir.resolve("m255.png"), m), 2).data());
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write(dir.resolve("m1.png"), expected), 2)
                        .data());
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write1Bit(dir.resolve("m.png"), m), 2)
                        .data());
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write(dir.resolve("m.bmp"), m), 2).data());
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write(dir.resolve("m.tif"), m), 2).data());
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write(dir.resolve("m16.png"), TestImages.to16(m)), 2)
                        .data());
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.writePalette(dir.resolve("mp.png"), expected, 2), 2)
                        .data());
        // Colour mask: lesion drawn in pure blue still counts.
        Raster blue = Raster.zeros8(30, 20, 3);
        for (int p = 0; p < 600; p++) {
            blue.setSample(3L * p + 2, m.sample(p));
        }
        assertArrayEquals(
                expected.data(),
                reader.readMask(TestImages.write(dir.resolve("blue.png"), blue), 2)
                        .data());
        Raster low = TestImages.threshold(m, 0); // values 0/1 written as a 0/1 grey JPEG-free PNG
        assertEquals(
                1,
                reader.readMask(TestImages.write(dir.resolve("low.png"), low), 2)
                        .sample(firstNonZero(low)));
    }

    @Test
    void classIndexMasks() {
        Raster classes = Raster.zeros8(12, 9, 1);
        for (int p = 0; p < 108; p++) {
            classes.setSample(p, p % 4);
        }
        assertArrayEquals(
                classes.data(),
                reader.readMask(TestImages.write(dir.resolve("c.png"), classes), 4)
                        .data());
        assertArrayEquals(
                classes.data(),
                reader.readMask(TestImages.writePalette(dir.resolve("cp.png"), classes, 4), 4)
                        .data(),
                "palette masks are read by index, not by colour");
        Raster c16 = new Raster(12, 9, 1, 16, new byte[216]);
        for (int p = 0; p < 108; p++) {
            c16.setSample(p, p % 4);
        }
        assertArrayEquals(
                classes.data(),
                reader.readMask(TestImages.write(dir.resolve("c16.png"), c16), 4)
                        .data());
    }

    @Test
    void maskValuesBeyondTheClassesAreRefused() {
        Raster classes = Raster.zeros8(12, 9, 1);
        classes.setSample(5 * 12 + 7, 5);
        classes.setSample(8 * 12 + 1, 9);
        Path f = TestImages.write(dir.resolve("bad.png"), classes);
        DataException e = assertThrows(DataException.class, () -> reader.readMask(f, 3));
        assertEquals(f, e.file());
        assertTrue(
                e.getMessage()
                        .contains(
                                "mask value 5 at pixel 7,5 is not a class index below 3 (2 pixels out of " + "range)"),
                e.getMessage());
        Raster colour = TestImages.noise(6, 6, 3, 8, 1);
        Path cf = TestImages.write(dir.resolve("colour.png"), colour);
        DataException ce = assertThrows(DataException.class, () -> reader.readMask(cf, 3));
        assertTrue(ce.getMessage().contains(cf + ": colour mask"), ce.getMessage());
    }

    @Test
    void severalMasksAreMergedByOr() {
        Raster a = Raster.zeros8(8, 8, 1);
        Raster b = Raster.zeros8(8, 8, 1);
        a.setSample(3, 255);
        b.setSample(40, 255);
        Raster merged = reader.readMask(
                List.of(TestImages.write(dir.resolve("a.png"), a), TestImages.write(dir.resolve("b.png"), b)), 2);
        assertEquals(2, sum(merged));
        assertEquals(1, merged.sample(3));
        assertEquals(1, merged.sample(40));
        Path other = TestImages.write(dir.resolve("small.png"), Raster.zeros8(7, 8, 1));
        DataException e =
                assertThrows(DataException.class, () -> reader.readMask(List.of(dir.resolve("a.png"), other), 2));
        assertTrue(e.getMessage().startsWith(other + ": mask is 7x8"), e.getMessage());
    }

    @Test
    void pairsMustHaveTheSameSize() {
        Path img = TestImages.write(dir.resolve("img.png"), TestImages.pattern(40, 30, 1, 1));
        Path mask = TestImages.write(dir.resolve("mask.png"), Raster.zeros8(30, 40, 1));
        DataException e =
                assertThrows(DataException.class, () -> reader.readPair(img, List.of(mask), ColorMode.GREY, 2));
        assertEquals(mask, e.file());
        assertTrue(e.getMessage().contains("mask is 30x40 but image " + img + " is 40x30"), e.getMessage());
        Path good = TestImages.write(dir.resolve("good.png"), TestImages.discs(40, 30, 2, 1));
        ImagePair p = reader.readPair(img, List.of(good), ColorMode.RGB, 2);
        assertEquals(3, p.image().channels());
        assertEquals(40, p.mask().width());
    }

    private static double meanAbsDiff(Raster a, Raster b) {
        double s = 0;
        for (long i = 0; i < a.samples(); i++) {
            s += Math.abs(a.sample(i) - b.sample(i));
        }
        return s / a.samples();
    }

    private static int sum(Raster r) {
        int s = 0;
        for (long i = 0; i < r.samples(); i++) {
            s += r.sample(i);
        }
        return s;
    }

    private static int firstNonZero(Raster r) {
        for (int i = 0; i < r.samples(); i++) {
            if (r.sample(i) != 0) {
                return i;
            }
        }
        throw new AssertionError("no lesion pixel");
    }
}
