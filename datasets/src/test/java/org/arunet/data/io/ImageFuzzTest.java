package org.arunet.data.io;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Coverage-guided fuzzing of the image and mask loader (docs/RELIABILITY.md): header checks, then
 * OpenCV's native decoders (libpng, libjpeg-turbo, libtiff, OpenCV's BMP) or javax.imageio. In a
 * normal build the target runs once over every committed input under
 * {@code ImageFuzzTestInputs/imageAndMask/}; with {@code JAZZER_FUZZ=1} Jazzer mutates them.
 *
 * <p>The contract: a file decodes to a raster of the size its header declares, or is refused with a
 * {@link DataException} naming it. A native crash kills the test JVM, which surefire reports as a
 * failed build and which leaves {@code target/hs_err_pid*.log}.
 */
class ImageFuzzTest {
    /** Small limits so that the fuzzer's decodes stay fast; the checks are the same at any limit. */
    private static final ImageReader READER = new ImageReader(new ImageLimits(1 << 20, 4096, 1 << 20, 64));

    private static final Path FILE;

    static {
        try {
            Path dir = Files.createTempDirectory("image-fuzz");
            dir.toFile().deleteOnExit();
            FILE = dir.resolve("input.png"); // the reader goes by content; the extension is deliberately wrong
            FILE.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void imageAndMask(byte[] bytes) throws IOException {
        ImageHeader h;
        try {
            h = ImageHeaders.check(FILE, bytes, READER.limits());
        } catch (DataException e) {
            named(e);
            h = null;
        }
        Files.write(FILE, bytes);
        for (ColorMode mode : ColorMode.values()) {
            try {
                Raster r = READER.readImage(FILE, mode);
                if (h == null) {
                    throw new AssertionError("decoded a file whose header was refused");
                }
                sameSize(h, r);
                if (r.channels() != 1 && r.channels() != 3) {
                    throw new AssertionError("image with " + r.channels() + " channels");
                }
            } catch (DataException e) {
                named(e);
            }
        }
        for (int classes : new int[] {2, 3}) {
            try {
                Raster m = READER.readMask(FILE, classes);
                if (h == null) {
                    throw new AssertionError("decoded a mask whose header was refused");
                }
                sameSize(h, m);
                for (long i = 0; i < m.samples(); i++) {
                    if (m.sample(i) >= classes) {
                        throw new AssertionError("mask value " + m.sample(i) + " >= " + classes);
                    }
                }
            } catch (DataException e) {
                named(e);
            }
        }
        try {
            READER.readPair(FILE, List.of(FILE), ColorMode.AUTO, 2);
        } catch (DataException e) {
            named(e);
        }
    }

    /**
     * DICOM: the header parser (meta group, data set in four transfer syntaxes, sequences, encapsulated
     * pixel data) and every frame's decoding through {@link ImageReader#open}. Seeds in
     * {@code ImageFuzzTestInputs/dicomFrames/}: single- and multi-frame, grey, RGB, YBR_FULL_422, JPEG,
     * ultrasound regions, written by {@link DicomFiles}.
     */
    @FuzzTest(maxDuration = "30s")
    void dicomFrames(byte[] bytes) throws IOException {
        byte[] content = bytes;
        if (bytes.length < 132 || bytes[128] != 'D') { // keep the fuzzer on DICOM: give it the preamble
            content = new byte[132 + bytes.length];
            content[128] = 'D';
            content[129] = 'I';
            content[130] = 'C';
            content[131] = 'M';
            System.arraycopy(bytes, 0, content, 132, bytes.length);
        }
        Files.write(FILE, content);
        try {
            ImageFrames frames = READER.open(FILE, ColorMode.AUTO);
            if (frames.count() < 1 || frames.count() > READER.limits().maxFrames()) {
                throw new AssertionError(frames.count() + " frames");
            }
            for (int i = 0; i < Math.min(frames.count(), 8); i++) {
                sameSize(frames.header(), frames.frame(i));
            }
        } catch (DataException e) {
            named(e);
        }
    }

    private static void sameSize(ImageHeader h, Raster r) {
        if (r.width() != h.width() || r.height() != h.height()) {
            throw new AssertionError(
                    "decoded " + r.width() + "x" + r.height() + ", header says " + h.width() + "x" + h.height());
        }
    }

    private static void named(DataException e) {
        if (!FILE.equals(e.file()) || e.getMessage() == null || !e.getMessage().startsWith(FILE.toString())) {
            throw new AssertionError("refusal does not name the file: " + e.getMessage(), e);
        }
    }
}
