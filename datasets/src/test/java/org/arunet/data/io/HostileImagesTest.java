package org.arunet.data.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.arunet.data.dataset.BadItemPolicy;
import org.arunet.data.dataset.Datasets;
import org.arunet.data.dataset.ScanOptions;
import org.arunet.data.dataset.SegmentationDataset;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The input classes of docs/RELIABILITY.md, one by one, through the public reader and dataset scan:
 * each file either decodes to what it holds or is refused with a {@link DataException} naming it, and
 * nothing reaches a native decoder that the header checks can rule out. Every case and its outcome
 * goes to {@code target/reliability/hostile-inputs.csv}.
 */
class HostileImagesTest {
    @TempDir
    static Path dir;

    private static final ImageReader READER = new ImageReader();
    private static final List<String> RECORD = new ArrayList<>();

    private static byte[] valid(String ext, int channels, int bits) {
        Path f = dir.resolve("valid-" + channels + "-" + bits + ext);
        TestImages.write(f, TestImages.noise(24, 16, channels, bits, 7));
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static Path file(String name, byte[] content) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, content);
        return f;
    }

    /** Reads {@code f} as image and as mask; expects a refusal containing every fragment. */
    private static void refused(String inputClass, Path f, String... fragments) {
        for (int asMask = 0; asMask < 2; asMask++) {
            try {
                if (asMask == 0) {
                    READER.readImage(f, ColorMode.AUTO);
                } else {
                    READER.readMask(f, 2);
                }
                throw new AssertionError(inputClass + ": " + f + " was accepted");
            } catch (DataException e) {
                assertEquals(f, e.file(), e.getMessage());
                for (String x : fragments) {
                    assertTrue(e.getMessage().contains(x), inputClass + ": " + e.getMessage());
                }
                if (asMask == 0) {
                    record(inputClass, f, "refused: " + e.problem());
                }
            }
        }
    }

    private static void record(String inputClass, Path f, String outcome) {
        RECORD.add(inputClass + ",\"" + f.getFileName() + "\",\"" + outcome.replace("\"", "'") + "\"");
    }

    @BeforeAll
    static void header() {
        RECORD.add("input_class,file,outcome");
    }

    @AfterAll
    static void writeRecord() throws IOException {
        Path report = Path.of(System.getProperty("reliability.report", "target/reliability"));
        Files.createDirectories(report);
        Files.write(report.resolve("hostile-inputs.csv"), RECORD, StandardCharsets.UTF_8);
    }

    @Test
    void zeroByteAndNonImageFiles() throws IOException {
        refused("zero-byte file", file("empty.png", new byte[0]), "file is empty (0 bytes)");
        refused(
                "text named .png",
                file("notes.png", "just some text\n".getBytes(StandardCharsets.UTF_8)),
                "not a PNG, JPEG, BMP, TIFF or DICOM file");
        refused(
                "random bytes named .jpg",
                file(
                        "noise.jpg",
                        new Random(1)
                                .ints(200, 0, 256)
                                .collect(java.io.ByteArrayOutputStream::new, (o, b) -> o.write(b), (a, b) -> {})
                                .toByteArray()),
                "not a PNG, JPEG, BMP, TIFF or DICOM file");
    }

    @Test
    void devicesPipesFoldersAndLinkLoopsAreRefusedWithoutBlocking() throws Exception {
        // A FIFO without a writer used to block the reader forever; /dev/zero never ends.
        Path fifo = dir.resolve("pipe.png");
        org.junit.jupiter.api.Assumptions.assumeTrue(
                new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor() == 0, "needs mkfifo");
        Path loop = dir.resolve("loop.png");
        Files.createSymbolicLink(loop, loop);
        Path folder = dir.resolve("folder.png");
        Files.createDirectories(folder);
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(20), () -> {
            refused("FIFO named .png", fifo, "not a regular file");
            refused("character device (/dev/zero)", Path.of("/dev/zero"), "not a regular file");
            refused("folder named .png", folder, "is a folder");
            refused("symbolic link to itself", loop, loop.toString());
        });
    }

    @Test
    void truncatedFilesAtEveryTenthOfTheirLength() throws IOException {
        for (String ext : new String[] {".png", ".jpg", ".bmp", ".tif"}) {
            byte[] whole = valid(ext, 1, 8);
            int refusedCount = 0;
            for (int tenth = 1; tenth < 10; tenth++) {
                Path f = file("cut" + tenth + "0pct" + ext, Arrays.copyOf(whole, whole.length * tenth / 10));
                try {
                    Raster r = READER.readImage(f, ColorMode.AUTO);
                    // Only TIFF may decode when the cut leaves its strips whole (the IFD sits at the end).
                    assertEquals(".tif", ext, "truncated " + ext + " decoded: " + f);
                    assertEquals(24, r.width());
                } catch (DataException e) {
                    assertEquals(f, e.file());
                    refusedCount++;
                }
            }
            if (!ext.equals(".tif")) {
                assertEquals(9, refusedCount, "every truncated " + ext + " refused");
            }
            record(
                    "truncated " + ext + " (9 cuts, 10%..90%)",
                    dir.resolve("cut*" + ext),
                    refusedCount + " of 9 refused with DataException, the rest decoded to the declared size");
        }
    }

    @Test
    void corruptPixelData() throws IOException {
        Random rnd = new Random(3);
        byte[] png = valid(".png", 3, 8);
        for (int i = 0; i < 20; i++) {
            byte[] b = png.clone();
            int at = 60 + rnd.nextInt(b.length - 80); // inside IDAT
            b[at] ^= (byte) (1 + rnd.nextInt(255));
            Path f = file("corrupt" + i + ".png", b);
            try {
                READER.readImage(f, ColorMode.AUTO);
                throw new AssertionError("corrupt PNG accepted: byte " + at);
            } catch (DataException e) {
                assertEquals(f, e.file());
                if (i == 0) {
                    record("PNG with a flipped byte in IDAT (20 files)", f, "all refused, e.g.: " + e.problem());
                }
            }
        }
        // JPEG has no checksums: libjpeg-turbo decodes damaged entropy data with artefacts and a warning.
        byte[] jpg = valid(".jpg", 3, 8);
        int decoded = 0;
        for (int i = 0; i < 20; i++) {
            byte[] b = jpg.clone();
            int at = b.length / 2 + rnd.nextInt(b.length / 2 - 4);
            b[at] ^= (byte) (1 + rnd.nextInt(255));
            Path f = file("corrupt" + i + ".jpg", b);
            try {
                Raster r = READER.readImage(f, ColorMode.AUTO);
                assertEquals(24, r.width());
                assertEquals(16, r.height());
                decoded++;
            } catch (DataException e) {
                assertEquals(f, e.file());
            }
        }
        record(
                "JPEG with a flipped byte in its second half (20 files)",
                dir.resolve("corrupt*.jpg"),
                decoded + " decoded at the declared size (no checksum to fail), " + (20 - decoded) + " refused");
    }

    @Test
    void decompressionBombsAreRefusedBeforeDecoding() throws IOException {
        refused(
                "PNG declaring 100000x100000",
                file("bomb.png", CraftedFiles.png(100_000, 100_000)),
                "refused before decoding");
        refused(
                "PNG declaring 4294967295x1",
                file("bomb-wide.png", CraftedFiles.png(0xFFFFFFFFL, 1)),
                "refused before decoding");
        refused(
                "JPEG declaring 65535x65535",
                file("bomb.jpg", CraftedFiles.jpeg(65535, 65535)),
                "refused before decoding");
        refused(
                "BMP declaring 30000x30000",
                file("bomb.bmp", CraftedFiles.bmp(30000, 30000)),
                "refused before decoding");
        refused("zero-size PNG", file("zero.png", CraftedFiles.png(0, 10)), "zero-size image");
    }

    @Test
    void sixteenBitAndPaletteFilesReadAsWhatTheyHold() throws IOException {
        Raster sixteen = READER.readImage(file("sixteen.png", valid(".png", 1, 16)), ColorMode.AUTO);
        assertEquals(16, sixteen.bitDepth());
        record("16-bit grey PNG", dir.resolve("sixteen.png"), "decoded, 16-bit samples kept");
        Path palette = dir.resolve("palette.png");
        Raster indices = Raster.zeros8(24, 16, 1);
        for (int i = 0; i < 24 * 16; i++) {
            indices.setSample(i, i % 3);
        }
        TestImages.writePalette(palette, indices, 4);
        Raster m = READER.readMask(palette, 3);
        for (int i = 0; i < 24 * 16; i++) {
            assertEquals(i % 3, m.sample(i), "class index at " + i);
        }
        record("palette PNG mask, 3 classes", palette, "decoded as class indices");
    }

    @Test
    void wrongExtensionsAreReadByContent() throws IOException {
        Path pngAsJpg = file("really-a-png.jpg", valid(".png", 1, 8));
        Path jpgAsBmp = file("really-a-jpeg.bmp", valid(".jpg", 1, 8));
        assertEquals(24, READER.readImage(pngAsJpg, ColorMode.AUTO).width());
        assertEquals(24, READER.readImage(jpgAsBmp, ColorMode.AUTO).width());
        record("PNG named .jpg, JPEG named .bmp", pngAsJpg, "decoded by content (the format is sniffed)");
    }

    @Test
    void masksOfAnotherSizeOtherValuesOrMissing() throws IOException {
        Path img = file("pair.png", valid(".png", 1, 8));
        Path small = dir.resolve("pair-mask-small.png");
        TestImages.write(small, Raster.zeros8(23, 16, 1));
        DataException size = org.junit.jupiter.api.Assertions.assertThrows(
                DataException.class, () -> READER.readPair(img, List.of(small), ColorMode.AUTO, 2));
        assertTrue(size.getMessage().contains("mask is 23x16 but image"), size.getMessage());
        record("mask of another size", small, "refused: " + size.problem());

        Raster values = Raster.zeros8(24, 16, 1);
        values.setSample(5, 7);
        Path seven = dir.resolve("mask-value7.png");
        TestImages.write(seven, values);
        DataException v =
                org.junit.jupiter.api.Assertions.assertThrows(DataException.class, () -> READER.readMask(seven, 3));
        assertTrue(v.getMessage().contains("mask value 7 at pixel 5,0 is not a class index below 3"), v.getMessage());
        record("mask value 7 with 3 classes", seven, "refused: " + v.problem());
        assertEquals(1, READER.readMask(seven, 2).sample(5), "binary masks: any value > 0 is lesion");

        Path root = dir.resolve("missing-mask");
        Files.createDirectories(root.resolve("images"));
        Files.createDirectories(root.resolve("masks"));
        Files.copy(img, root.resolve("images/benign_1.png"));
        Files.copy(img, root.resolve("images/benign_2.png"));
        TestImages.write(root.resolve("masks/benign_1.png"), Raster.zeros8(24, 16, 1));
        DataException missing =
                org.junit.jupiter.api.Assertions.assertThrows(DataException.class, () -> Datasets.scan(root));
        assertEquals(root.resolve("images/benign_2.png"), missing.file());
        SegmentationDataset skipped = Datasets.scan(
                root, ScanOptions.builder().onBadItem(BadItemPolicy.SKIP).build());
        assertEquals(1, skipped.size());
        record(
                "image without a mask",
                missing.file(),
                "scan refused: " + missing.problem()
                        + "; with BadItemPolicy.SKIP: left out and listed in the scan report");
    }
}
