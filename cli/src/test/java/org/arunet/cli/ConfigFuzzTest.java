package org.arunet.cli;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing of {@code --config} files through the whole command line
 * (docs/RELIABILITY.md): JSON parsing, option defaults, type conversion and the key check. In a normal
 * build the target runs once over every committed input under {@code ConfigFuzzTestInputs/trainConfig/};
 * with {@code JAZZER_FUZZ=1} Jazzer mutates them.
 *
 * <p>{@code --data} names a folder that does not exist and {@code --out} a scratch folder, both on
 * the command line (which wins over the file), so an accepted configuration ends at the data check.
 * The contract: a usage error (exit 2) that blames the configuration or an option value, or the
 * data error (exit 1), or help/version text (exit 0); never an internal error.
 */
class ConfigFuzzTest {
    private static final Path FILE;
    private static final Path OUT;
    private static final Path MISSING;

    static {
        try {
            Path dir = Files.createTempDirectory("config-fuzz");
            FILE = dir.resolve("config.json");
            OUT = dir.resolve("out");
            MISSING = dir.resolve("no-such-data");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "30s")
    void trainConfig(byte[] bytes) throws IOException {
        Files.write(FILE, bytes);
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            code = Main.run(
                    "train",
                    "--config",
                    FILE.toString(),
                    "--data",
                    MISSING.toString(),
                    "--out",
                    OUT.toString(),
                    "--device",
                    "cpu");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        String o = out.toString(StandardCharsets.UTF_8);
        String e = err.toString(StandardCharsets.UTF_8);
        // The first line of our own (Jazzer's agent logs to the same stream while it instruments classes).
        String first = e.lines().filter(l -> l.startsWith("arunet")).findFirst().orElse("");
        boolean ok =
                switch (code) {
                    case 0 -> o.contains("Usage: arunet") || o.startsWith("arunet ");
                    case 1 ->
                        first.startsWith("arunet train: error: ")
                                && (first.contains("--data " + MISSING) || first.contains("--resume"));
                    case 2 ->
                        first.startsWith("arunet")
                                && (first.contains("--config " + FILE)
                                        || first.contains("Invalid value for option")
                                        || first.contains("must be"));
                    default -> false;
                };
        if (e.lines().anyMatch(l -> l.startsWith("[picocli WARN]"))) {
            ok = false; // a help text that picocli cannot format (picocli's own log line, not the input echoed)
        }
        if (!ok) {
            throw new AssertionError("config " + new String(bytes, StandardCharsets.UTF_8) + " gave exit " + code
                    + "\nstderr: " + e + "\nstdout: " + o);
        }
    }
}
