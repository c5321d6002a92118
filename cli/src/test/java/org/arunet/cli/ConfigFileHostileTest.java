package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed {@code --config} files: each is a usage error (exit 2) whose first line names the file,
 * before anything is trained or written.
 */
class ConfigFileHostileTest {
    @TempDir
    Path dir;

    private record Run(int code, String err) {}

    private Run train(String config) throws Exception {
        Path cfg = dir.resolve("config.json");
        Files.writeString(cfg, config);
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(
                    "train",
                    "--config",
                    cfg.toString(),
                    "--data",
                    dir.resolve("none").toString(),
                    "--out",
                    dir.resolve("out").toString());
            return new Run(code, err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    private void usageError(String config, String... fragments) throws Exception {
        Run r = train(config);
        String first = r.err().lines().findFirst().orElse("");
        assertEquals(2, r.code(), config + " -> " + r.err());
        assertTrue(first.contains("--config " + dir.resolve("config.json")), config + " -> " + first);
        for (String f : fragments) {
            assertTrue(first.contains(f), config + " -> " + first);
        }
        assertTrue(!Files.exists(dir.resolve("out")), "nothing written for a bad config");
    }

    @Test
    void malformedJsonIsAUsageErrorNamingTheFile() throws Exception {
        usageError("", "JSON object");
        usageError("{", "not valid JSON");
        usageError("[1, 2]", "JSON object");
        usageError("\"epochs\"", "JSON object");
        usageError("{\"epochs\": 3,}", "not valid JSON");
        usageError("[".repeat(5000), "not valid JSON");
        usageError("{\"epochs\": {\"value\": 3}}", "'epochs'");
    }

    @Test
    void trailingContentAndRepeatedKeysAreRefused() throws Exception {
        // Both used to be accepted silently: the second document and the first "epochs" were ignored.
        usageError("{\"epochs\": 3} {\"epochs\": 300}", "not valid JSON");
        usageError("{\"epochs\": 3, \"epochs\": 300}", "Duplicate field 'epochs'");
    }

    @Test
    void unknownKeysAndBadValuesNameTheFile() throws Exception {
        usageError("{\"epoch\": 3}", "'epoch' is not an option");
        usageError("{\"epochs\": \"many\"}", "'many' is not an int");
        usageError("{\"loss\": \"l2\"}", "--loss");
        usageError("{\"ratios\": [{\"a\": 1}]}", "'ratios'");
    }
}
