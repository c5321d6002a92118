package org.arunet.data.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where the shared BUSI copy is: the system property {@code arunet.busi}, else
 * {@code ../../shared/datasets/busi} (Maven runs tests in the module folder, and shared/ lies beside
 * the repository), else {@code ../shared/datasets/busi} (run from the repository root).
 */
public final class BusiData {
    private BusiData() {}

    public static Optional<Path> root() {
        String prop = System.getProperty("arunet.busi");
        if (prop != null && !prop.isBlank()) {
            return Optional.of(Path.of(prop)).filter(BusiData::looksLikeBusi);
        }
        for (Path p : new Path[] {
            Path.of("..", "..", "shared", "datasets", "busi"), Path.of("..", "shared", "datasets", "busi")
        }) {
            if (looksLikeBusi(p)) {
                return Optional.of(p.toAbsolutePath().normalize());
            }
        }
        return Optional.empty();
    }

    private static boolean looksLikeBusi(Path p) {
        return Files.isDirectory(p.resolve("images"))
                && Files.isDirectory(p.resolve("masks"))
                && Files.isRegularFile(p.resolve("index.csv"));
    }
}
