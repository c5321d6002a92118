package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.model.SegmentationModel;
import org.arunet.model.UNet;
import org.arunet.nn.Init;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged tool and ONNX Runtime (failsafe, after {@code package}): arunet.jar does not carry ONNX
 * Runtime, {@code java -jar arunet.jar bench --vs onnxruntime} says so, and the launcher gives the
 * {@code bench} command the copy in {@code cli/target/onnxruntime/}.
 */
class OnnxLauncherIT {
    static final Path TARGET = LauncherIT.ROOT.resolve("cli").resolve("target");

    @Test
    void theShippedJarHasNoOnnxRuntimeButPackageCopiesItAside() throws Exception {
        try (JarFile jar = new JarFile(TARGET.resolve("arunet.jar").toFile())) {
            assertFalse(
                    jar.stream().anyMatch(e -> e.getName().startsWith("ai/onnxruntime/")),
                    "arunet.jar must not contain ONNX Runtime");
            assertTrue(jar.getEntry("onnx/Onnx$ModelProto.class") != null, "the generated ONNX protobuf classes");
        }
        try (Stream<Path> s = Files.list(TARGET.resolve("onnxruntime"))) {
            assertTrue(s.anyMatch(p -> p.getFileName().toString().matches("onnxruntime-[0-9.]+\\.jar")));
        }
    }

    @Test
    void plainJavaJarRefusesTheComparisonWithDirections(@TempDir Path dir) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Path log = dir.resolve("out.log");
        Process p = new ProcessBuilder(List.of(
                        java.toString(),
                        "-jar",
                        TARGET.resolve("arunet.jar").toString(),
                        "bench",
                        "--vs",
                        "onnxruntime",
                        "--image-size",
                        "32",
                        "--width",
                        "4"))
                .redirectErrorStream(true)
                .redirectOutput(log.toFile())
                .start();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "finished");
        String out = Files.readString(log, StandardCharsets.UTF_8);
        assertEquals(1, p.exitValue(), out);
        assertTrue(out.contains("ONNX Runtime is not on the class path"), out);
        assertFalse(out.contains("NoClassDefFoundError"), out);
    }

    @Test
    void launcherRunsTheComparisonAndTheExport(@TempDir Path dir) throws Exception {
        LauncherIT.Result bench = LauncherIT.launch(
                dir,
                "bench",
                "--vs",
                "onnxruntime",
                "--image-size",
                "32",
                "--width",
                "4",
                "--iterations",
                "2",
                "--warmup",
                "1",
                "--threads",
                "1");
        assertEquals(0, bench.code(), bench.output());
        String[] lines = bench.output().strip().split("\n");
        assertTrue(lines[lines.length - 1].matches("ratio ours/onnxruntime: \\d+\\.\\d\\d"), bench.output());

        LauncherIT.Result alone = LauncherIT.launch(
                dir,
                "bench",
                "--vs",
                "onnxruntime",
                "--peer-only",
                "--image-size",
                "32",
                "--width",
                "4",
                "--iterations",
                "2",
                "--warmup",
                "1",
                "--threads",
                "1");
        assertEquals(0, alone.code(), alone.output());
        assertTrue(alone.output().contains("onnxruntime: forward"), alone.output());
        assertTrue(alone.output().contains("(ONNX Runtime alone:"), alone.output());
        assertFalse(alone.output().contains("ours:"), alone.output());

        LauncherIT.Result bf16 = LauncherIT.launch(
                dir, "bench", "--vs", "onnxruntime", "--precision", "bf16", "--image-size", "32", "--width", "4");
        assertEquals(2, bf16.code(), bf16.output());
        assertTrue(bf16.output().contains("--vs compares fp32 inference"), bf16.output());
        LauncherIT.Result orphan = LauncherIT.launch(dir, "bench", "--peer-only", "--image-size", "32");
        assertEquals(2, orphan.code(), orphan.output());
        assertTrue(orphan.output().contains("--peer-only needs --vs onnxruntime"), orphan.output());

        Path ckpt = dir.resolve("u.safetensors");
        try (Backend be = Backends.reference();
                SegmentationModel m = new UNet(be, 1, 2, 4, false, Init.Scheme.PYTORCH, 1)) {
            Checkpoint.save(ckpt, m, null, Map.of());
        }
        LauncherIT.Result export = LauncherIT.launch(
                dir,
                "export",
                "--model",
                ckpt.toString(),
                "--onnx",
                dir.resolve("u.onnx").toString());
        assertEquals(0, export.code(), export.output());
        assertTrue(Files.size(dir.resolve("u.onnx")) > 10_000, export.output());
    }
}
