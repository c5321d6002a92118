package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.arunet.train.Trainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Running out of memory (docs/RELIABILITY.md, "Faults"), in child JVMs: native memory (a network too
 * large for the machine), the Java heap (a legal but large image with a small -Xmx) and an image whose
 * header declares more pixels than the limits allow (refused before decoding). Each must end with
 * exit code 1 and one line naming what was being allocated or read, never a stack trace or a JVM
 * crash. (No GPU backend exists in this build, so GPU memory is not exercised.) Outcomes are appended
 * to {@code target/reliability/out-of-memory.csv}.
 */
class OutOfMemoryTest {
    @TempDir
    static Path dir;

    static Path data;
    static Path checkpoint;

    @BeforeAll
    static void trainATinyModel() throws Exception {
        data = TinyDataset.write(dir.resolve("data"), 8, 40, 5);
        ChildProcess c = ChildProcess.start(
                dir.resolve("train-log"),
                List.of(),
                List.of("-Xmx512m"),
                List.of(
                        "train",
                        "--data",
                        data.toString(),
                        "--out",
                        dir.resolve("run").toString(),
                        "--epochs",
                        "1",
                        "--image-size",
                        "32",
                        "--width",
                        "4",
                        "--threads",
                        "2",
                        "--device",
                        "cpu",
                        "--no-eval-test"));
        assertEquals(0, c.waitFor(600), c.err());
        checkpoint = dir.resolve("run").resolve("checkpoints").resolve(Trainer.LAST);
    }

    private static String oneLine(ChildProcess c, int expectedExit) throws Exception {
        int rc = c.waitFor(600);
        String err = c.err();
        assertEquals(expectedExit, rc, err);
        assertTrue(!err.contains("\tat ") && !err.contains("Exception in thread"), "stack trace printed:\n" + err);
        assertTrue(c.err().lines().noneMatch(l -> l.startsWith("#")), "JVM crash report:\n" + err);
        String line =
                err.lines().filter(l -> l.startsWith("arunet ")).findFirst().orElse("(none)\n" + err);
        Path report = Path.of(System.getProperty("reliability.report", "target/reliability"));
        Files.createDirectories(report);
        Path f = report.resolve("out-of-memory.csv");
        if (!Files.exists(f)) {
            Files.writeString(f, "exit,message\n");
        }
        Files.writeString(
                f,
                rc + ",\"" + line.replace("\"", "'") + "\"\n",
                StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.APPEND);
        return line;
    }

    @Test
    void aNetworkTooLargeForNativeMemoryIsOneClearLine() throws Exception {
        ChildProcess c = ChildProcess.start(
                dir.resolve("native-log"),
                List.of(),
                List.of("-Xmx512m"),
                List.of(
                        "train",
                        "--data",
                        data.toString(),
                        "--out",
                        dir.resolve("huge").toString(),
                        "--width",
                        "100000",
                        "--image-size",
                        "32",
                        "--epochs",
                        "1",
                        "--device",
                        "cpu",
                        "--threads",
                        "2"));
        String line = oneLine(c, 1);
        assertTrue(
                line.startsWith("arunet train: error: out of memory: native host memory exhausted allocating "
                                + "360,000,000,000 bytes for F32 OIHW [100000, 100000, 3, 3]")
                        && line.contains("--width"),
                line);
    }

    @Test
    void aLargeImageBeyondTheJavaHeapIsOneClearLine() throws Exception {
        // 6000 x 6000 (36 Mpx, within the 64 Mpx limit) compresses to a few kilobytes but needs hundreds of
        // megabytes of heap to segment at full resolution; the JVM gets 64 MB.
        Path big = dir.resolve("big");
        Files.createDirectories(big);
        BufferedImage img = new BufferedImage(6000, 6000, BufferedImage.TYPE_BYTE_GRAY);
        ImageIO.write(img, "png", big.resolve("scan.png").toFile());
        ChildProcess c = ChildProcess.start(
                dir.resolve("heap-log"),
                List.of(),
                List.of("-Xmx64m", "-XX:+UseSerialGC"),
                List.of(
                        "predict",
                        "--model",
                        checkpoint.toString(),
                        "--out",
                        dir.resolve("heap-out").toString(),
                        "--device",
                        "cpu",
                        "--threads",
                        "2",
                        big.toString()));
        String line = oneLine(c, 1);
        assertTrue(
                line.startsWith("arunet predict: error: out of memory: ")
                        && line.contains("scan.png")
                        && line.contains("6000x6000"),
                line);
    }

    /** A valid PNG (correct CRCs, real zlib data) whose header declares {@code w x h} grey pixels. */
    static byte[] bombPng(int w, int h) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
        chunk(
                out,
                "IHDR",
                java.nio.ByteBuffer.allocate(13)
                        .putInt(w)
                        .putInt(h)
                        .put((byte) 8)
                        .put((byte) 0)
                        .put((byte) 0)
                        .put((byte) 0)
                        .put((byte) 0)
                        .array());
        java.util.zip.Deflater d = new java.util.zip.Deflater(9);
        d.setInput(new byte[1 << 20]); // the first megabyte of zero rows; the rest would follow the same way
        d.finish();
        byte[] z = new byte[1 << 16];
        int n = d.deflate(z);
        chunk(out, "IDAT", java.util.Arrays.copyOf(z, n));
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(java.io.ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(
                java.nio.ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    @Test
    void aDecompressionBombIsRefusedBeforeDecoding() throws Exception {
        Path bombs = dir.resolve("bombs");
        Files.createDirectories(bombs);
        Files.write(bombs.resolve("bomb.png"), bombPng(100_000, 100_000));
        ChildProcess c = ChildProcess.start(
                dir.resolve("bomb-log"),
                List.of(),
                List.of("-Xmx64m"),
                List.of(
                        "predict",
                        "--model",
                        checkpoint.toString(),
                        "--out",
                        dir.resolve("bomb-out").toString(),
                        "--device",
                        "cpu",
                        "--threads",
                        "2",
                        bombs.toString()));
        String line = oneLine(c, 1);
        assertTrue(
                line.contains("bomb.png") && line.contains("100000x100000") && line.contains("refused before decoding"),
                line);
    }
}
