package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the repository's {@code arunet} launcher script on the packaged jar (failsafe, after
 * {@code package}): the command a newcomer types.
 */
class LauncherIT {
    static final Path ROOT = Path.of("").toAbsolutePath().getParent();

    record Result(int code, String output) {}

    static Result launch(Path workDir, String... args) throws IOException, InterruptedException {
        List<String> cmd =
                new java.util.ArrayList<>(List.of("bash", ROOT.resolve("arunet").toString()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile("launcher", ".log");
        Process p = new ProcessBuilder(cmd)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("launcher did not finish: " + Files.readString(log));
        }
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    }

    @Test
    void launcherRunsThePackagedTool(@TempDir Path dir) throws Exception {
        assertTrue(Files.exists(ROOT.resolve("cli").resolve("target").resolve("arunet.jar")), "package ran first");
        Result version = launch(dir, "--version");
        assertEquals(0, version.code(), version.output());
        assertTrue(version.output().startsWith("arunet "), version.output());
        assertTrue(!version.output().contains("building"), "no rebuild on a fresh package: " + version.output());

        Result help = launch(dir, "--help");
        assertEquals(0, help.code());
        for (String c : new String[] {"train", "eval", "predict", "split", "info", "bench", "demo"}) {
            assertTrue(help.output().contains(c), "help lists " + c);
        }
        Result bad = launch(dir, "train", "--epochs", "x");
        assertEquals(2, bad.code(), bad.output());

        // A real command through the launcher: split the bundled sample after extracting it via the demo's code.
        Path data = org.arunet.data.sample.BusiMini.extractTo(dir.resolve("data"));
        Result split = launch(
                dir,
                "split",
                "--data",
                data.toString(),
                "--out",
                dir.resolve("s.json").toString(),
                "--json");
        assertEquals(0, split.code(), split.output());
        assertTrue(split.output().contains("\"duplicate_groups\""), split.output());
    }
}
