package org.arunet.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The {@code arunet} command in a child JVM with this test JVM's class path, for tests that kill it,
 * limit it or crash it (docs/RELIABILITY.md). Output goes to files next to the run.
 */
final class ChildProcess {
    final Process process;
    final Path stdout;
    final Path stderr;
    final long startNanos = System.nanoTime();

    private ChildProcess(Process p, Path stdout, Path stderr) {
        this.process = p;
        this.stdout = stdout;
        this.stderr = stderr;
    }

    /** {@code java <jvmOptions> org.arunet.cli.Main <args>}, optionally behind a wrapper command. */
    static ChildProcess start(Path logPrefix, List<String> wrapper, List<String> jvmOptions, List<String> args)
            throws IOException {
        List<String> cmd = new ArrayList<>(wrapper);
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String cache = System.getProperty("org.bytedeco.javacpp.cachedir");
        if (cache != null) {
            cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + cache);
        }
        cmd.add("-XX:ErrorFile=" + logPrefix.toAbsolutePath() + "-hs_err_pid%p.log");
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(args);
        Path out = Path.of(logPrefix + ".out");
        Path err = Path.of(logPrefix + ".err");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().put("CI", "1"); // plain progress lines, no progress bar
        return new ChildProcess(pb.start(), out, err);
    }

    long pid() {
        return process.pid();
    }

    double seconds() {
        return (System.nanoTime() - startNanos) / 1e9;
    }

    /** Waits for the exit code, failing after {@code seconds}. */
    int waitFor(long seconds) throws InterruptedException, IOException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
            throw new AssertionError("child did not finish within " + seconds + " s; stderr:\n" + err());
        }
        return process.exitValue();
    }

    /** Waits until standard output contains {@code marker}; false if the process ends first. */
    boolean awaitOutput(String marker, long seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (out().contains(marker)) {
                return true;
            }
            if (!process.isAlive()) {
                return out().contains(marker);
            }
            Thread.sleep(5);
        }
        throw new AssertionError("no '" + marker + "' on standard output after " + seconds + " s");
    }

    /** SIGKILL (on Linux {@link Process#destroyForcibly} sends signal 9) and wait. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** Sends a signal by name ("STOP", "CONT") with kill(1). */
    void signal(String name) throws IOException, InterruptedException {
        int rc = new ProcessBuilder("kill", "-" + name, Long.toString(pid()))
                .inheritIO()
                .start()
                .waitFor();
        if (rc != 0) {
            throw new IOException("kill -" + name + " " + pid() + " failed with " + rc);
        }
    }

    String out() throws IOException {
        return Files.exists(stdout) ? Files.readString(stdout, StandardCharsets.UTF_8) : "";
    }

    String err() throws IOException {
        return Files.exists(stderr) ? Files.readString(stderr, StandardCharsets.UTF_8) : "";
    }

    /** True when {@code command} runs and exits 0 (used to see what this machine allows). */
    static boolean works(String... command) {
        try {
            Process p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
