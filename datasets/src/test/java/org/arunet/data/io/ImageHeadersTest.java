package org.arunet.data.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageHeadersTest {
    @TempDir
    Path dir;

    private final ImageReader reader = new ImageReader();

    private Path file(String name, byte[] bytes) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static void assertMessage(DataException e, Path file, String... parts) {
        String m = e.getMessage();
        assertTrue(m.contains(file.toString()), "message should name the file: " + m);
        assertEquals(file, e.file());
        for (String p : parts) {
            assertTrue(m.contains(p), "message should contain '" + p + "': " + m);
        }
    }

    @Test
    void pngBombIsRefusedBeforeDecoding() throws Exception {
        Path p = file("bomb.png", CraftedFiles.png(30000, 30000));
        DataException e = assertThrows(DataException.class, () -> reader.readImage(p, ColorMode.GREY));
        assertMessage(e, p, "30000x30000", "decompression bomb");
        assertThrows(DataException.class, () -> reader.readMask(p, 2));
    }

    @Test
    void jpegBmpTiffBombsAreRefused() throws Exception {
        Path j = file("bomb.jpg", CraftedFiles.jpeg(60000, 60000));
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(j, ColorMode.GREY)),
                j,
                "JPEG header declares 60000x60000");
        Path b = file("bomb.bmp", CraftedFiles.bmp(40000, 40000));
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(b, ColorMode.GREY)),
                b,
                "BMP header declares 40000x40000");
        Path t = file("bomb.tif", CraftedFiles.tiff(20000, 20000));
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(t, ColorMode.GREY)),
                t,
                "TIFF header declares 20000x20000");
    }

    @Test
    void pixelLimitAppliesToRealFiles() {
        Path p = TestImages.write(dir.resolve("ok.png"), TestImages.pattern(64, 48, 1, 1));
        assertEquals(64, reader.readImage(p, ColorMode.GREY).width());
        ImageReader strict = new ImageReader(new ImageLimits(1000, 16384, 1 << 20));
        assertMessage(
                assertThrows(DataException.class, () -> strict.readImage(p, ColorMode.GREY)), p, "64x48 (3072 pixels)");
        ImageReader tinyFiles = new ImageReader(new ImageLimits(1 << 20, 16384, 10));
        assertMessage(
                assertThrows(DataException.class, () -> tinyFiles.readImage(p, ColorMode.GREY)),
                p,
                "beyond the limit of 10");
    }

    @Test
    void headersAreParsedForEveryFormat() {
        Raster img = TestImages.pattern(37, 21, 3, 2);
        for (String ext : new String[] {"png", "jpg", "bmp", "tif"}) {
            Path p = TestImages.write(dir.resolve("h." + ext), img);
            ImageHeader h = reader.header(p);
            assertEquals(37, h.width(), ext);
            assertEquals(21, h.height(), ext);
            assertEquals(3, h.channels(), ext);
        }
        ImageHeader pal = reader.header(TestImages.writePalette(
                dir.resolve("pal.png"), TestImages.threshold(TestImages.pattern(10, 10, 1, 3), 100), 3));
        assertTrue(pal.indexed());
        ImageHeader bit = reader.header(TestImages.write1Bit(dir.resolve("bit.png"), TestImages.discs(9, 7, 2, 1)));
        assertEquals(1, bit.bitDepth());
        assertEquals(9, bit.width());
    }

    @Test
    void zeroSizeImagesAreRefused() throws Exception {
        Path p = file("zero.png", CraftedFiles.png(0, 10));
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(p, ColorMode.GREY)),
                p,
                "zero-size image",
                "0x10");
        Path j = file("zero.jpg", CraftedFiles.jpeg(16, 0));
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(j, ColorMode.GREY)), j, "zero-size image");
        Path b = file("zero.bmp", CraftedFiles.bmp(0, 0));
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(b, ColorMode.GREY)), b, "zero-size image");
    }

    @Test
    void emptyUnknownAndMissingFilesAreNamed() throws Exception {
        Path empty = file("empty.png", new byte[0]);
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(empty, ColorMode.GREY)),
                empty,
                "file is empty");
        Path text = file("notes.png", "hello, this is text".getBytes());
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(text, ColorMode.GREY)),
                text,
                "not a PNG, JPEG, BMP, TIFF or DICOM file");
        Path missing = dir.resolve("missing.png");
        assertMessage(
                assertThrows(DataException.class, () -> reader.readImage(missing, ColorMode.GREY)),
                missing,
                "does not exist");
    }

    @Test
    void truncatedFilesAreRefused() throws Exception {
        Raster img = TestImages.pattern(64, 64, 3, 5);
        for (String ext : new String[] {"png", "jpg", "bmp", "tif"}) {
            byte[] full = Files.readAllBytes(TestImages.write(dir.resolve("full." + ext), img));
            Path cut = file("cut." + ext, Arrays.copyOf(full, full.length * 2 / 3));
            DataException e = assertThrows(DataException.class, () -> reader.readImage(cut, ColorMode.RGB), ext);
            assertEquals(cut, e.file());
            if (!ext.equals("tif")) {
                assertTrue(e.getMessage().contains("truncated"), e.getMessage());
            }
        }
    }

    @Test
    void corruptPngDataIsRefused() throws Exception {
        byte[] b = Files.readAllBytes(TestImages.write(dir.resolve("ok.png"), TestImages.pattern(64, 64, 1, 9)));
        // Overwrite the middle of the IDAT payload: structure intact, data (and CRC) broken.
        int idat = indexOf(b, "IDAT".getBytes());
        for (int i = idat + 20; i < idat + 60; i++) {
            b[i] = (byte) 0xA5;
        }
        Path p = file("corrupt.png", b);
        assertMessage(assertThrows(DataException.class, () -> reader.readImage(p, ColorMode.GREY)), p, "corrupt");
    }

    @Test
    void garbageAfterJpegSignatureIsRefused() throws Exception {
        byte[] b = new byte[4000];
        new java.util.Random(3).nextBytes(b);
        b[0] = (byte) 0xFF;
        b[1] = (byte) 0xD8;
        b[2] = (byte) 0xFF;
        b[3] = (byte) 0xE0;
        b[4] = 0;
        b[5] = 16;
        Path p = file("garbage.jpg", b);
        DataException e = assertThrows(DataException.class, () -> reader.readImage(p, ColorMode.GREY));
        assertEquals(p, e.file());
        assertFalse(e.getMessage().isBlank());
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
