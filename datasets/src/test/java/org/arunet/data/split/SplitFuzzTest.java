package org.arunet.data.split;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.arunet.data.io.DataException;

/**
 * Coverage-guided fuzzing of the split-file reader (docs/RELIABILITY.md). In a normal build the
 * target runs once over every committed input under {@code SplitFuzzTestInputs/splitFile/}; with
 * {@code JAZZER_FUZZ=1} Jazzer mutates them.
 *
 * <p>The contract: a file is refused with a {@link DataException} naming it, or it is accepted and
 * then every id it lists is a relative path that stays inside the dataset root and (for the
 * two-argument load) names an existing file there.
 */
class SplitFuzzTest {
    private static final Path ROOT;
    private static final Path FILE;

    static {
        try {
            Path dir = Files.createTempDirectory("split-fuzz");
            ROOT = dir.resolve("data");
            Files.createDirectories(ROOT.resolve("images"));
            for (String f : List.of("images/a.png", "images/b.png", "images/c.png", "d.png")) {
                Files.write(ROOT.resolve(f), new byte[] {1});
                ROOT.resolve(f).toFile().deleteOnExit();
            }
            // A file next to the root that an escaping id ("../outside.png") would reach.
            Files.write(dir.resolve("outside.png"), new byte[] {1});
            FILE = dir.resolve("split.json");
            for (Path p : List.of(dir.resolve("outside.png"), FILE, ROOT.resolve("images"), ROOT, dir)) {
                p.toFile().deleteOnExit();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void splitFile(byte[] bytes) throws IOException {
        Files.write(FILE, bytes);
        Split structural = null;
        try {
            structural = Split.load(FILE);
            checkInside(structural);
        } catch (DataException e) {
            named(e);
        }
        try {
            Split s = Split.load(FILE, ROOT);
            if (structural == null) {
                throw new AssertionError("load(file, root) accepted what load(file) refused");
            }
            checkInside(s);
            for (String part : List.of("train", "val", "test")) {
                for (String id : s.part(part)) {
                    if (!Files.isRegularFile(ROOT.resolve(id))) {
                        throw new AssertionError("accepted id '" + id + "' names no file");
                    }
                }
            }
            s.hash();
        } catch (DataException e) {
            named(e);
        }
    }

    private static void checkInside(Split s) {
        Path root = ROOT.toAbsolutePath().normalize();
        for (String part : List.of("train", "val", "test")) {
            for (String id : s.part(part)) {
                Path p = root.resolve(id).normalize();
                if (!p.startsWith(root) || p.equals(root)) {
                    throw new AssertionError("accepted id '" + id + "' leaves the dataset root: " + p);
                }
            }
        }
    }

    private static void named(DataException e) {
        if (!FILE.equals(e.file())) {
            throw new AssertionError("refusal does not name the split file: " + e.getMessage(), e);
        }
    }
}
