package org.arunet.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsTensorsAndMetadata() throws IOException {
        Path f = dir.resolve("a.safetensors");
        try (Tensor a = Tensor.of(new float[] {1, -2, 3.5f, 4, 5, 6}, Layout.PLAIN, 2, 3);
                Tensor b = Tensor.host(DType.I64, Layout.PLAIN);
                Tensor c = Tensor.ofInts(new int[] {7, 8, 9}, 3)) {
            b.copyFrom(new long[] {42});
            Map<String, Tensor> m = new LinkedHashMap<>();
            m.put("w", a);
            m.put("n", b);
            m.put("c", c);
            SafeTensors.write(f, m, Map.of("config", "{\"width\": 8}"));
        }
        try (SafeTensors.Reader r = SafeTensors.open(f)) {
            assertEquals("{\"width\": 8}", r.metadata().get("config"));
            assertArrayEquals(new float[] {1, -2, 3.5f, 4, 5, 6}, r.readFloats("w"));
            assertArrayEquals(new int[] {2, 3}, r.entry("w").shape());
            assertArrayEquals(new long[] {42}, r.readLongs("n"));
            assertEquals(0, r.entry("n").shape().length);
            assertArrayEquals(new long[] {7, 8, 9}, r.readLongs("c"));
            try (Tensor t = r.read("w", Layout.PLAIN)) {
                assertArrayEquals(new float[] {1, -2, 3.5f, 4, 5, 6}, t.toFloatArray());
            }
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void readsTheReferenceFixtures() throws Exception {
        Path f = Path.of(
                getClass().getResource("/fixtures/module_mcsa.safetensors").toURI());
        try (SafeTensors.Reader r = SafeTensors.open(f)) {
            assertArrayEquals(new int[] {2, 8, 10, 10}, r.entry("input").shape());
            assertEquals(DType.I64, r.entry("param.p_bn.num_batches_tracked").dtype());
            assertEquals("mcsa", r.metadata().get("block"));
        }
    }

    private Path raw(String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Path f = Files.createTempFile(dir, "bad", ".safetensors");
        Files.write(f, b.array());
        return f;
    }

    private void refused(Path f, String fragment) {
        IOException e =
                assertThrows(IOException.class, () -> SafeTensors.open(f).close());
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains(fragment), e.getMessage());
    }

    @Test
    void refusesHostileFiles() throws IOException {
        refused(
                raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[4]),
                "outside the data section");
        refused(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]), "needs 12");
        refused(raw("{\"a\":{\"dtype\":\"Q8\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), "dtype");
        refused(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]), "dimension");
        refused(
                raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                        new byte[12]),
                "overlaps");
        refused(raw("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", new byte[8]), "hole");
        refused(
                raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                + "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                        new byte[8]),
                "Duplicate");
        refused(
                raw(
                        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483647,2147483647,2147483647],"
                                + "\"data_offsets\":[0,8]}}",
                        new byte[8]),
                "too large");
        refused(raw("[1,2]", new byte[0]), "not a JSON object");
        refused(raw("{\"a\": ", new byte[0]), "not valid JSON");
        refused(raw("{\"__metadata__\":{\"k\":3}}", new byte[0]), "not a string");

        Path tiny = dir.resolve("tiny.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3});
        refused(tiny, "fewer than the 8-byte header");

        Path huge = dir.resolve("huge.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16)
                .order(ByteOrder.LITTLE_ENDIAN)
                .putLong(1L << 40)
                .putLong(0);
        Files.write(huge, b.array());
        refused(huge, "header length");

        Path neg = dir.resolve("neg.safetensors");
        Files.write(
                neg,
                ByteBuffer.allocate(16)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(-5)
                        .putLong(0)
                        .array());
        refused(neg, "header length");
    }

    @Test
    void truncatedCheckpointIsRefused() throws IOException {
        Path f = dir.resolve("t.safetensors");
        try (Tensor a = Tensor.of(new float[100], Layout.PLAIN, 100)) {
            SafeTensors.write(f, Map.of("a", a), Map.of());
        }
        byte[] all = Files.readAllBytes(f);
        Path cut = dir.resolve("cut.safetensors");
        Files.write(cut, java.util.Arrays.copyOf(all, all.length - 10));
        refused(cut, "outside the data section");
    }
}
