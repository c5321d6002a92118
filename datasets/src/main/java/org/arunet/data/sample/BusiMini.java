package org.arunet.data.sample;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The small BUSI sample bundled in this module's jar: 40 image/mask pairs (18 benign, 18 malignant,
 * 4 normal) of the BUSI dataset (Al-Dhabyani et al., Data in Brief 28 (2020) 104863,
 * doi:10.1016/j.dib.2019.104863), shrunk to 256 pixels on the longer side, in the
 * {@code images/} + {@code masks/} layout. Enough for a demo or a smoke test of training, far too
 * little for a meaningful model. In the source tree it is {@code datasets/sample/busi-mini}; from the
 * jar, {@link #extractTo} writes it to a folder:
 *
 * <pre>{@code
 * Path dir = BusiMini.extractTo(Path.of("demo-data/busi-mini"));
 * SegmentationDataset ds = Datasets.scan(dir);      // 36 benign + malignant (normal left out)
 * }</pre>
 *
 * How it was made: {@link BusiMiniMaker}; its README.md states source and licence.
 */
public final class BusiMini {
    /** Classpath folder of the sample. */
    public static final String RESOURCE_DIR = "/org/arunet/data/sample/busi-mini/";

    private BusiMini() {}

    /** The sample's files, relative to its folder (from {@code files.txt}). */
    public static List<String> files() {
        try (InputStream in = open("files.txt")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8)
                    .lines()
                    .filter(l -> !l.isBlank())
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the bundled sample's file list", e);
        }
    }

    /** Copies the sample into {@code dir} (created if needed; existing files are replaced); returns dir. */
    public static Path extractTo(Path dir) {
        try {
            for (String f : files()) {
                Path target = dir.resolve(f);
                Files.createDirectories(target.getParent());
                try (InputStream in = open(f)) {
                    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the bundled sample to " + dir, e);
        }
    }

    private static InputStream open(String relative) throws IOException {
        InputStream in = BusiMini.class.getResourceAsStream(RESOURCE_DIR + relative);
        if (in == null) {
            throw new IOException("bundled sample file " + relative + " is missing from the classpath");
        }
        return in;
    }
}
