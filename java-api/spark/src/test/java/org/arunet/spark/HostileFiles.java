package org.arunet.spark;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.CRC32;

/** A folder with some bundled sample images and files that must each give an error row. */
final class HostileFiles {
    private HostileFiles() {}

    static final Path SAMPLES = Path.of("../../datasets/sample/busi-mini/images");

    /** Names of the bad files {@link #write} adds. */
    static final List<String> BAD =
            List.of("broken.png", "notes.jpg", "empty.png", "bomb.png", "garbage.bmp", "truncated.png");

    /** Copies {@code samples} sample images into {@code dir} and adds the files of {@link #BAD}; returns the good ones. */
    static List<String> write(Path dir, int samples) throws IOException {
        Files.createDirectories(dir);
        List<Path> good;
        try (var s = Files.list(SAMPLES)) {
            good = s.filter(p -> p.toString().endsWith(".png"))
                    .sorted()
                    .limit(samples)
                    .toList();
        }
        for (Path p : good) {
            Files.copy(p, dir.resolve(p.getFileName()));
        }
        Files.write(dir.resolve("broken.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        Files.writeString(dir.resolve("notes.jpg"), "not a jpeg");
        Files.write(dir.resolve("empty.png"), new byte[0]);
        Files.write(dir.resolve("bomb.png"), pngHeader(200_000, 200_000));
        Files.write(dir.resolve("garbage.bmp"), "BM this is no bitmap".getBytes(StandardCharsets.US_ASCII));
        byte[] real = Files.readAllBytes(good.get(0));
        Files.write(dir.resolve("truncated.png"), java.util.Arrays.copyOf(real, real.length / 3));
        Files.writeString(dir.resolve("readme.txt"), "not an image: skipped by a folder listing, as predict skips it");
        return good.stream().map(p -> p.getFileName().toString()).toList();
    }

    /** A PNG signature and a valid IHDR chunk declaring {@code w x h} 8-bit grey pixels, and nothing more. */
    static byte[] pngHeader(int w, int h) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
        ByteBuffer ihdr = ByteBuffer.allocate(17);
        ihdr.put("IHDR".getBytes(StandardCharsets.US_ASCII))
                .putInt(w)
                .putInt(h)
                .put((byte) 8)
                .put((byte) 0)
                .put((byte) 0)
                .put((byte) 0)
                .put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(ihdr.array());
        out.writeBytes(ByteBuffer.allocate(4).putInt(13).array());
        out.writeBytes(ihdr.array());
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        return out.toByteArray();
    }
}
