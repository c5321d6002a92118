package org.arunet.io;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.infer.Segmenter;
import org.arunet.model.SegmentationModel;
import org.arunet.tensor.DType;
import org.arunet.tensor.HostMemory;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Checkpoint;

/**
 * Coverage-guided fuzzing of the model-file readers (docs/RELIABILITY.md). In a normal build each
 * target runs once over every committed input under {@code SafeTensorsFuzzTestInputs/<target>/};
 * with {@code JAZZER_FUZZ=1} Jazzer mutates them. The contract checked: a file either opens (and then
 * every tensor reads back) or is refused with an {@link IOException}; no other exception, no native
 * memory left behind.
 */
class SafeTensorsFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Path FILE;

    static {
        try {
            Path dir = Files.createTempDirectory("safetensors-fuzz");
            dir.toFile().deleteOnExit();
            FILE = dir.resolve("input.safetensors");
            FILE.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Raw bytes as a file: the whole reader, from the length prefix to the data. */
    @FuzzTest(maxDuration = "30s")
    void rawFile(byte[] bytes) throws IOException {
        Files.write(FILE, bytes);
        openAndReadEverything();
        loadAsCheckpoint();
    }

    /**
     * A header built from the fuzzer's choices (names, dtypes, shapes, offsets, metadata, data size),
     * so that mutations reach the checks behind the JSON parser, then the checkpoint layer on top:
     * format keys, architecture, building the recorded model and loading its weights.
     */
    @FuzzTest(maxDuration = "30s")
    void structuredCheckpoint(FuzzedDataProvider in) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        if (in.consumeBoolean()) {
            ObjectNode meta = header.putObject("__metadata__");
            if (in.consumeBoolean()) {
                meta.put("format", in.consumeBoolean() ? Checkpoint.FORMAT : in.consumeString(12));
                meta.put("format_version", in.consumeBoolean() ? Checkpoint.VERSION : in.consumeString(4));
            }
            if (in.consumeBoolean()) {
                ObjectNode arch = JSON.createObjectNode();
                arch.put("arch", in.pickValue(new String[] {"aru-net", "unet", "attention-unet", "x"}));
                for (String k : new String[] {
                    "in_channels",
                    "classes",
                    "width",
                    "mixer_kernel",
                    "mixer_depth",
                    "spatial_kernel",
                    "mcsa_stages",
                    "channel_attention",
                    "mixer",
                    "residual"
                }) {
                    if (in.consumeBoolean()) {
                        arch.put(
                                k,
                                in.consumeBoolean() ? Integer.toString(in.consumeInt(-2, 70000)) : in.consumeString(8));
                    }
                }
                meta.put("architecture", in.consumeBoolean() ? arch.toString() : in.consumeString(40));
            }
            int extra = in.consumeInt(0, 3);
            for (int i = 0; i < extra; i++) {
                meta.put(in.consumeString(10), in.consumeString(20));
            }
        }
        int tensors = in.consumeInt(0, 6);
        long offset = 0;
        for (int i = 0; i < tensors; i++) {
            String name = in.consumeBoolean() ? "model.stem.weight" : in.consumeString(16);
            ObjectNode e = header.putObject(name);
            DType dt = in.pickValue(DType.values());
            e.put("dtype", in.consumeBoolean() ? dt.safetensorsName() : in.consumeString(5));
            ArrayNode shape = e.putArray("shape");
            long numel = 1;
            int rank = in.consumeInt(0, 9);
            for (int d = 0; d < rank; d++) {
                int dim = in.consumeBoolean() ? in.consumeInt(0, 4) : in.consumeInt();
                shape.add(dim);
                numel *= dim;
            }
            long size = in.consumeBoolean() ? numel * dt.bytes() : in.consumeLong();
            ArrayNode off = e.putArray("data_offsets");
            long begin = in.consumeBoolean() ? offset : in.consumeLong();
            off.add(begin);
            off.add(begin + size);
            offset = begin + size;
        }
        byte[] h = JSON.writeValueAsBytes(header);
        boolean exact = in.consumeBoolean();
        byte[] rest = in.consumeRemainingAsBytes();
        // Usually a data section of exactly the declared size, so that the entries' own checks are reached.
        byte[] data = exact && offset >= 0 && offset <= (1 << 20) ? Arrays.copyOf(rest, (int) offset) : rest;
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        Files.write(FILE, b.array());
        openAndReadEverything();
        loadAsCheckpoint();
    }

    /**
     * Builds the recorded model and loads its weights, then a segmenter on it (input size, channels and
     * normalisation from the file); only an IOException naming the file may come out.
     */
    private static void loadAsCheckpoint() {
        long before = HostMemory.bytesInUse();
        try (Backend be = Backends.reference()) {
            try (SegmentationModel m = Checkpoint.loadModel(FILE, be)) {
                m.stateDict().values().forEach(Tensor::numel);
            } catch (IOException expected) {
                // refused with a message naming the file
                assertNames(expected);
            }
        }
        try (Segmenter s = Segmenter.builder(FILE).device("reference").build()) {
            s.classes();
        } catch (IOException expected) {
            assertNames(expected);
        }
        if (HostMemory.bytesInUse() != before) {
            throw new AssertionError("loading left " + (HostMemory.bytesInUse() - before) + " bytes of native memory");
        }
    }

    /** Opens the file and reads every tensor every way; only an IOException naming the file may come out. */
    private static void openAndReadEverything() throws IOException {
        long before = HostMemory.bytesInUse();
        try (SafeTensors.Reader r = SafeTensors.open(FILE)) {
            for (SafeTensors.Entry e : r.entries().values()) {
                try (Tensor t = r.read(e.name(), Layout.NHWC)) {
                    if (t.numel() != e.numel()) {
                        throw new AssertionError("tensor " + e.name() + " read with " + t.numel() + " elements");
                    }
                }
                if (e.dtype() == DType.F32) {
                    r.readFloats(e.name());
                } else if (e.dtype() == DType.I32 || e.dtype() == DType.I64) {
                    r.readLongs(e.name());
                }
            }
            r.metadata().forEach((k, v) -> k.length());
        } catch (IOException expected) {
            assertNames(expected);
        }
        if (HostMemory.bytesInUse() != before) {
            throw new AssertionError("reading left " + (HostMemory.bytesInUse() - before) + " bytes of native memory");
        }
    }

    private static void assertNames(IOException e) {
        if (e.getMessage() == null || !e.getMessage().contains(FILE.toString())) {
            throw new AssertionError("refusal does not name the file: " + e.getMessage(), e);
        }
    }
}
