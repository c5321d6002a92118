package org.arunet.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.model.UNet;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.tensor.DType;
import org.arunet.tensor.HostMemory;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint's recorded architecture is untrusted input: a file of a few hundred bytes declaring
 * {@code width: 512} used to make {@link Checkpoint#loadModel} allocate 20 GB of native memory and
 * initialise 3.8 GB of it before failing with a Java heap {@code OutOfMemoryError} (12 s); it is
 * now measured first and refused.
 */
class HostileCheckpointTest {
    @TempDir
    Path dir;

    private static List<SegmentationModel> models(Backend be) {
        return List.of(
                new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 1),
                new ArUNet(
                        be,
                        ArUNetConfig.authorsCode()
                                .withWidth(4)
                                .withInChannels(1)
                                .withClasses(3),
                        Init.Scheme.AUTHORS,
                        1),
                new ArUNet(
                        be,
                        ArUNetConfig.paper()
                                .withWidth(2)
                                .withMixer(false)
                                .withMcsaStages()
                                .withChannelAttention(ChannelAttention.Kind.SE)
                                .withResidual(false),
                        Init.Scheme.AUTHORS,
                        1),
                new UNet(be, 3, 2, 2, false, Init.Scheme.PYTORCH, 1),
                new UNet(be, 1, 4, 3, true, Init.Scheme.PYTORCH, 1));
    }

    @Test
    void measuredSizeIsExactlyWhatTheModelAllocatesAndLoadsFromItsOwnCheckpoint() throws IOException {
        try (Backend be = Backends.reference()) {
            int i = 0;
            for (SegmentationModel m : models(be)) {
                try (m) {
                    long params = 0;
                    for (Parameter p : m.namedParameters().values()) {
                        params += p.value().bytes();
                    }
                    long f32Buffers = 0;
                    for (Tensor t : m.stateDict().values()) {
                        f32Buffers += t.dtype() == DType.F32 ? t.bytes() : 0;
                    }
                    f32Buffers -= params;
                    assertEquals(
                            params + f32Buffers,
                            Checkpoint.parameterBytes(m.architecture()),
                            "F32 parameter and buffer bytes of " + m.architecture());
                    Path f = dir.resolve("m" + i++ + ".safetensors");
                    Checkpoint.save(f, m, null, Map.of());
                    try (SegmentationModel back = Checkpoint.loadModel(f, be)) {
                        assertEquals(m.architecture(), back.architecture());
                    }
                }
            }
        }
    }

    private Path declaring(Map<String, String> architecture) throws IOException {
        Path f = dir.resolve("hostile.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", Checkpoint.FORMAT);
        meta.put("format_version", Checkpoint.VERSION);
        meta.put("architecture", Checkpoint.toJson(architecture));
        try (Tensor t = Tensor.of(new float[] {1}, Layout.PLAIN, 1)) {
            SafeTensors.write(f, Map.of("model.stem.weight", t), meta);
        }
        return f;
    }

    @Test
    void aSmallFileDeclaringAHugeNetworkIsRefusedBeforeAnythingIsAllocated() throws IOException {
        for (String width : List.of("512", "4096", "100000", Integer.toString(Integer.MAX_VALUE / 16))) {
            for (String arch : List.of("aru-net", "unet", "attention-unet")) {
                Path f = declaring(Map.of("arch", arch, "width", width));
                long inUse = HostMemory.bytesInUse();
                long peak = HostMemory.peakBytesInUse();
                long t0 = System.nanoTime();
                try (Backend be = Backends.cpu(2)) {
                    IOException e = assertThrows(
                            IOException.class, () -> Checkpoint.loadModel(f, be).close());
                    assertTrue(
                            e.getMessage().startsWith(f.toString())
                                    && e.getMessage().contains("refused before " + "allocating")
                                    && e.getMessage().contains("width=" + width),
                            e.getMessage());
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                assertTrue(seconds < 5, arch + " width " + width + " took " + seconds + " s to refuse");
                assertEquals(inUse, HostMemory.bytesInUse(), "native memory left behind");
                assertTrue(
                        HostMemory.peakBytesInUse() <= Math.max(peak, inUse + (1 << 20)),
                        "refusing " + arch + " width " + width + " touched " + (HostMemory.peakBytesInUse() - inUse)
                                + " bytes");
            }
        }
    }

    @Test
    void theSegmenterRefusesAnAbsurdInputSizeOrChannelCount() throws IOException {
        Path f = dir.resolve("small.safetensors");
        try (Backend be = Backends.reference();
                UNet net = new UNet(be, 1, 2, 1, false, Init.Scheme.PYTORCH, 1)) {
            Checkpoint.save(
                    f,
                    net,
                    null,
                    Map.of(
                            "preprocessing",
                            Checkpoint.toJson(
                                    Map.of("image_size", "100000", "channels", "1", "mean", "0.5", "std", "0.5"))));
        }
        long inUse = HostMemory.bytesInUse();
        IOException e = assertThrows(IOException.class, () -> org.arunet.infer.Segmenter.builder(f)
                .device("cpu")
                .build()
                .close());
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("100000x100000"), e.getMessage());
        assertEquals(inUse, HostMemory.bytesInUse(), "native memory left behind");
        // Without recorded preprocessing the channel count comes from the architecture.
        Path g = declaring(Map.of("arch", "unet", "width", "1", "in_channels", "three"));
        e = assertThrows(IOException.class, () -> org.arunet.infer.Segmenter.builder(g)
                .device("cpu")
                .imageSize(32)
                .build()
                .close());
        assertTrue(e.getMessage().startsWith(g.toString()) && e.getMessage().contains("three"), e.getMessage());
    }

    @Test
    void invalidArchitecturesNameTheFile() throws IOException {
        for (Map<String, String> arch : List.of(
                Map.of("arch", "resnet"),
                Map.of("arch", "aru-net", "width", "-3"),
                Map.of("arch", "unet", "classes", "many"),
                Map.of("arch", "aru-net", "mcsa_stages", "[9]"),
                Map.of("arch", "aru-net", "channel_attention", "bogus"),
                // found by fuzzing: the mixer depth multiplies modules, so measuring took 20 s
                Map.of("arch", "aru-net", "mixer_depth", "68652"),
                Map.of("arch", "aru-net", "mixer_depth", Integer.toString(Integer.MAX_VALUE)))) {
            Path f = declaring(arch);
            long t0 = System.nanoTime();
            try (Backend be = Backends.reference()) {
                IOException e = assertThrows(
                        IOException.class, () -> Checkpoint.loadModel(f, be).close());
                assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertTrue(seconds < 2, arch + " took " + seconds + " s to refuse");
        }
    }
}
