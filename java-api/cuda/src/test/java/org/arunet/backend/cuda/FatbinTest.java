package org.arunet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.arunet.backend.Precision;
import org.junit.jupiter.api.Test;

/**
 * The CUDA kernels as built (no GPU needed): every module of {@code kernels.index} is a fatbin holding
 * machine code for sm_80 and sm_90 and PTX for compute_90, and every kernel's PTX parameter list matches
 * the signature the Java launcher pushes ({@link Kernels#SIGNATURES}), so that a kernel can never be
 * launched with arguments of the wrong count, size or type.
 */
class FatbinTest {
    /** One entry of a fatbin: kind 1 = PTX, 2 = ELF (cubin); arch 80 = sm_80; the payload. */
    record Entry(int kind, int arch, byte[] payload) {}

    /**
     * Parses a fatbin: a header (magic 0xBA55ED50, version, header size, size of the entries), then
     * entries, each a header (kind, version, header size, payload size, ..., arch at offset 28) and an
     * uncompressed payload (the build uses --compress-mode=none).
     */
    static List<Entry> parse(byte[] fatbin) {
        ByteBuffer b = ByteBuffer.wrap(fatbin).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xBA55ED50, b.getInt(0), "fatbin magic");
        int headerSize = b.getShort(6) & 0xffff;
        long size = b.getLong(8);
        assertEquals(fatbin.length, headerSize + size, "fatbin size in its header");
        List<Entry> out = new ArrayList<>();
        int pos = headerSize;
        while (pos < fatbin.length) {
            int kind = b.getShort(pos) & 0xffff;
            int entryHeader = b.getInt(pos + 4);
            long payload = b.getLong(pos + 8);
            int compressed = b.getInt(pos + 16);
            int arch = b.getInt(pos + 28);
            assertEquals(0, compressed, "entries are not compressed");
            byte[] data = new byte[(int) payload];
            System.arraycopy(fatbin, pos + entryHeader, data, 0, data.length);
            out.add(new Entry(kind, arch, data));
            pos += entryHeader + (int) payload;
        }
        assertEquals(fatbin.length, pos, "entries fill the fatbin");
        return out;
    }

    /** A build without nvcc has no kernels and says so (build-fatbins.sh writes kernels.absent). */
    static void assumeKernelsWereBuilt() {
        assumeTrue(
                Kernels.class.getResource(Kernels.RESOURCE_DIR + "kernels.absent") == null,
                "this build was made without nvcc: no CUDA kernels to check");
    }

    @Test
    void everyModuleHasSm80Sm90AndPtx() {
        assumeKernelsWereBuilt();
        assertNull(Kernels.missingResource(), "all kernel resources present");
        List<String> modules = Kernels.moduleNames();
        assertFalse(modules.isEmpty());
        for (String m : modules) {
            List<Entry> entries = parse(Kernels.resource(m + ".fatbin"));
            List<String> found = new ArrayList<>();
            for (Entry e : entries) {
                found.add((e.kind() == 2 ? "sm_" : e.kind() == 1 ? "ptx_" : "kind" + e.kind() + "_") + e.arch());
                if (e.kind() == 2) {
                    assertEquals(0x7f, e.payload()[0] & 0xff, m + ": ELF magic");
                    assertEquals('E', e.payload()[1], m + ": ELF magic");
                }
            }
            assertTrue(found.contains("sm_80"), m + " has sm_80 code: " + found);
            assertTrue(found.contains("sm_90"), m + " has sm_90 code: " + found);
            assertTrue(found.contains("ptx_90"), m + " has compute_90 PTX: " + found);
        }
    }

    private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (\\w+)\\(([^)]*)\\)", Pattern.DOTALL);
    private static final Pattern PARAM = Pattern.compile("\\.param (?:\\.align \\d+ )?\\.(\\w+)");

    /** Every kernel's PTX parameter list, from the PTX entries of all modules. */
    static Map<String, List<String>> ptxSignatures() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (String m : Kernels.moduleNames()) {
            for (Entry e : parse(Kernels.resource(m + ".fatbin"))) {
                if (e.kind() != 1) {
                    continue;
                }
                String ptx = new String(e.payload(), StandardCharsets.US_ASCII);
                assertTrue(ptx.contains(".target sm_90"), m + ": PTX for sm_90");
                Matcher em = ENTRY.matcher(ptx);
                while (em.find()) {
                    List<String> types = new ArrayList<>();
                    Matcher pm = PARAM.matcher(em.group(2));
                    while (pm.find()) {
                        types.add(pm.group(1));
                    }
                    assertNull(out.put(em.group(1), types), "kernel " + em.group(1) + " defined twice");
                }
            }
        }
        return out;
    }

    @Test
    void javaSignaturesMatchPtx() {
        assumeKernelsWereBuilt();
        Map<String, List<String>> ptx = ptxSignatures();
        assertEquals(Kernels.SIGNATURES.keySet(), ptx.keySet(), "the kernels Java knows are exactly those built");
        for (Map.Entry<String, String> e : Kernels.SIGNATURES.entrySet()) {
            List<String> types = ptx.get(e.getKey());
            String sig = e.getValue();
            assertEquals(sig.length(), types.size(), e.getKey() + ": parameter count, PTX " + types);
            for (int i = 0; i < sig.length(); i++) {
                String want =
                        switch (sig.charAt(i)) {
                            case 'p', 'l' -> "u64";
                            case 'i' -> "u32";
                            case 'f' -> "f32";
                            case 'd' -> "f64";
                            default -> throw new AssertionError("bad signature letter in " + sig);
                        };
                String got = types.get(i).equals("s32") ? "u32" : types.get(i).equals("s64") ? "u64" : types.get(i);
                assertEquals(
                        want, got, e.getKey() + ": parameter " + i + " (signature " + sig + ", PTX " + types + ")");
            }
        }
    }

    /** When cuobjdump is installed, it must see the same architectures. */
    @Test
    void cuobjdumpAgrees() throws IOException, InterruptedException {
        assumeKernelsWereBuilt();
        Path tool = null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            Path p = Path.of(dir, "cuobjdump");
            if (Files.isExecutable(p)) {
                tool = p;
            }
        }
        assumeTrue(tool != null, "cuobjdump is not on the PATH (the CUDA toolkit here has no cuobjdump)");
        Path tmp = Files.createTempFile("arunet", ".fatbin");
        try {
            Files.write(tmp, Kernels.resource(Kernels.moduleNames().get(0) + ".fatbin"));
            Process p = new ProcessBuilder(tool.toString(), "--list-elf", "--list-ptx", tmp.toString())
                    .redirectErrorStream(true)
                    .start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
            assertTrue(out.contains("sm_80"), out);
            assertTrue(out.contains("sm_90"), out);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Test
    void chunkingDependsOnRowsOnly() {
        for (long rows : new long[] {1, 63, 64, 65, 1000, 65536, 1 << 20, 8_388_608L, 1L << 31}) {
            long rpc = Kernels.rowsPerChunk(rows);
            long chunks = Kernels.chunks(rows);
            assertTrue(chunks >= 1 && chunks <= Kernels.MAX_CHUNKS, rows + " rows: " + chunks + " chunks");
            assertTrue(chunks * rpc >= rows && (chunks - 1) * rpc < rows, rows + " rows covered exactly");
            long per = Kernels.sumChunk(rows);
            long sc = Kernels.sumChunks(rows);
            assertTrue(sc >= 1 && sc <= Kernels.MAX_CHUNKS && sc * per >= rows, rows + " sum chunks");
        }
    }

    @Test
    void poolSizeClasses() {
        assertEquals(512, DevicePool.sizeClass(0));
        assertEquals(512, DevicePool.sizeClass(512));
        assertEquals(1024, DevicePool.sizeClass(513));
        assertEquals(1L << 20, DevicePool.sizeClass((1L << 20) - 1));
        assertEquals((1L << 20) + (128 << 10), DevicePool.sizeClass((1L << 20) + 1));
        assertEquals(34L << 20, DevicePool.sizeClass((32L << 20) + 1));
        for (long b = 1; b < (1L << 34); b = b * 3 + 7) {
            long c = DevicePool.sizeClass(b);
            assertTrue(c >= b && c % 256 == 0 && c <= b + Math.max(512, b / 8), b + " -> " + c);
        }
    }

    @Test
    void precisionNames() {
        assertEquals(Precision.F16, Precision.parse("FP16"));
        assertEquals(Precision.BF16, Precision.parse("bfloat16"));
        assertEquals(Precision.F32, Precision.parse("float32"));
        assertNotNull(assertThrowsIae(() -> Precision.parse("fp8")));
    }

    private static IllegalArgumentException assertThrowsIae(Runnable r) {
        return org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, r::run);
    }
}
