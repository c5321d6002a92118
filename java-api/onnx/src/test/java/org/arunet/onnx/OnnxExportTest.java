package org.arunet.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import onnx.Onnx.ModelProto;
import onnx.Onnx.NodeProto;
import onnx.Onnx.TensorProto;
import onnx.Onnx.TensorShapeProto;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.model.UNet;
import org.arunet.nn.BatchNorm2d;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Init;
import org.arunet.nn.Module;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.tensor.Transpose;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Exported models run in ONNX Runtime and give our CPU backend's outputs: every architecture and
 * option, random weights and random BatchNorm statistics, two batch sizes and two (non-square)
 * spatial sizes through one session (dynamic shapes). Plus the graph's structure and metadata.
 */
class OnnxExportTest {
    /** "Equal within 1e-4 relative": {@code |ort - ours| <= RTOL (|ours| + FLOOR max|ours|)} ({@link #assertAgree}). */
    static final double RTOL = 1e-4;
    /** Relative errors are taken against at least this fraction of the output's largest magnitude. */
    static final double FLOOR = 1e-2;

    static OrtEnvironment env;
    static Backend cpu;

    @TempDir
    Path dir;

    @BeforeAll
    static void setUp() {
        env = OrtEnvironment.getEnvironment();
        cpu = Backends.cpu(2);
    }

    @AfterAll
    static void tearDown() {
        cpu.close();
    }

    /** Batch x height x width runs of each model: batch 1 and 2, square and non-square. */
    static final int[][] SHAPES = {{1, 32, 32}, {2, 48, 64}};

    static Stream<Named<Function<Backend, SegmentationModel>>> models() {
        ArUNetConfig tiny = ArUNetConfig.paper().withWidth(8);
        return Stream.of(
                model("aru-net default (width 8)", tiny),
                model(
                        "aru-net SE attention, mixer k7, spatial k5, MCSA 4..1",
                        tiny.withChannelAttention(ChannelAttention.Kind.SE)
                                .withMixerKernel(7)
                                .withSpatialKernel(5)
                                .withMcsaStages(4, 3, 2, 1)),
                model(
                        "aru-net bare: no CA, no SA, no mixer, no residual, no MCSA, grey in, 3 classes",
                        tiny.withChannelAttention(ChannelAttention.Kind.NONE)
                                .withSpatialAttention(false)
                                .withMixer(false)
                                .withResidual(false)
                                .withMcsaStages()
                                .withInChannels(1)
                                .withClasses(3)),
                model("aru-net authors' code preset", ArUNetConfig.authorsCode().withWidth(8)),
                model(
                        "aru-net mixer depth 2 without SA, MCSA at 4 only, 4 classes",
                        tiny.withSpatialAttention(false)
                                .withMixerDepth(2)
                                .withMcsaStages(4)
                                .withClasses(4)),
                Named.of("unet (grey in)", be -> new UNet(be, 1, 2, 8, false, Init.Scheme.AUTHORS, 5)),
                Named.of("attention-unet (3 classes)", be -> new UNet(be, 3, 3, 8, true, Init.Scheme.AUTHORS, 6)));
    }

    static Named<Function<Backend, SegmentationModel>> model(String name, ArUNetConfig c) {
        return Named.of(name, be -> new ArUNet(be, c, Init.Scheme.AUTHORS, name.hashCode()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void onnxRuntimeGivesOurOutputs(Function<Backend, SegmentationModel> factory) throws Exception {
        try (SegmentationModel m = factory.apply(cpu)) {
            randomizeBatchNorm(m, 11);
            m.eval();
            Path file = dir.resolve("model.onnx");
            OnnxExporter.Result r = OnnxExporter.export(m, file, null);
            assertEquals(Files.size(file), r.bytes());
            try (OrtSession s = session(file)) {
                SplittableRandom rng = new SplittableRandom(3);
                for (int[] shape : SHAPES) {
                    int n = shape[0];
                    int h = shape[1];
                    int w = shape[2];
                    float[] x = gaussian(rng, n * m.inChannels() * h * w);
                    float[] expected = ours(m, x, n, h, w);
                    assertInputSensitive(expected, ours(m, gaussian(rng, x.length), n, h, w));
                    float[] actual = ort(s, x, n, m.inChannels(), h, w);
                    assertAgree(m.architecture() + " " + n + "x" + h + "x" + w, actual, expected);
                }
            }
        }
    }

    @Test
    void graphHasDynamicNchwInputNamedNodesWeightsAndMetadata() throws Exception {
        try (SegmentationModel m = new ArUNet(cpu, ArUNetConfig.paper().withWidth(8), Init.Scheme.AUTHORS, 1)) {
            Map<String, String> pre = Map.of("image_size", "256", "channels", "3", "mean", "0.5", "std", "0.5");
            ModelProto p = OnnxExporter.toProto(m, pre, true);
            assertEquals(OnnxExporter.OPSET, p.getOpsetImport(0).getVersion());
            assertEquals("", p.getOpsetImport(0).getDomain());
            assertTrue(p.getOpsetImport(0).getVersion() >= 13);

            assertEquals(1, p.getGraph().getInputCount());
            List<TensorShapeProto.Dimension> in = p.getGraph()
                    .getInput(0)
                    .getType()
                    .getTensorType()
                    .getShape()
                    .getDimList();
            assertEquals("image", p.getGraph().getInput(0).getName());
            assertEquals(
                    List.of("N", "", "H", "W"),
                    in.stream().map(TensorShapeProto.Dimension::getDimParam).collect(Collectors.toList()));
            assertEquals(3, in.get(1).getDimValue());
            List<TensorShapeProto.Dimension> out = p.getGraph()
                    .getOutput(0)
                    .getType()
                    .getTensorType()
                    .getShape()
                    .getDimList();
            assertEquals("logits", p.getGraph().getOutput(0).getName());
            assertEquals(2, out.get(1).getDimValue());
            assertEquals("probabilities", p.getGraph().getOutput(1).getName());

            Set<String> nodes =
                    p.getGraph().getNodeList().stream().map(NodeProto::getName).collect(Collectors.toSet());
            for (String n : new String[] {
                "stem.a.conv",
                "stem.a.bn",
                "stem.a.bn.relu",
                "enc2.pool",
                "enc2.block.shortcut",
                "sa.conv",
                "mixer.4.dw",
                "mixer.4.gelu2",
                "dec4.upsample",
                "dec3.mcsa.g_bn",
                "dec3.ca.fc_out",
                "dec1.fuse.conv",
                "head",
                "softmax"
            }) {
                assertTrue(nodes.contains(n), "node " + n + " in " + nodes);
            }
            assertFalse(nodes.contains("dec4.mcsa.p"), "MCSA is not at stage 4 by default");

            Set<String> inits = p.getGraph().getInitializerList().stream()
                    .map(TensorProto::getName)
                    .collect(Collectors.toSet());
            Set<String> expected = new HashSet<>();
            for (String k : m.stateDict().keySet()) {
                if (!k.endsWith("num_batches_tracked")) {
                    expected.add(k);
                }
            }
            Set<String> weights = new HashSet<>(inits);
            weights.removeIf(k -> k.startsWith("const."));
            assertEquals(expected, weights);
            TensorProto w = p.getGraph().getInitializerList().stream()
                    .filter(t -> t.getName().equals("dec3.mcsa.d.weight"))
                    .findFirst()
                    .orElseThrow();
            assertEquals(List.of(32L, 32L, 3L, 3L), w.getDimsList(), "OIHW weights kept as they are");
            assertArrayEquals(
                    m.stateDict().get("dec3.mcsa.d.weight").toByteArray(),
                    w.getRawData().toByteArray());

            Map<String, String> meta = new LinkedHashMap<>();
            p.getMetadataPropsList().forEach(e -> meta.put(e.getKey(), e.getValue()));
            ObjectMapper json = new ObjectMapper();
            assertEquals(
                    m.architecture(),
                    json.readValue(meta.get("architecture"), new TypeReference<Map<String, String>>() {}));
            assertEquals(pre, json.readValue(meta.get("preprocessing"), new TypeReference<Map<String, String>>() {}));
            assertEquals("NCHW", meta.get("input_layout"));
            assertEquals("16", meta.get("size_multiple"));
            assertTrue(meta.containsKey("arunet_version"));
        }
    }

    @Test
    void onnxRuntimeSeesSymbolicDimensionsAndMetadata() throws Exception {
        try (SegmentationModel m = new UNet(cpu, 1, 2, 4, true, Init.Scheme.AUTHORS, 2)) {
            Path file = dir.resolve("u.onnx");
            OnnxExporter.export(m, file, Map.of("image_size", "64"));
            try (OrtSession s = session(file)) {
                TensorInfo in = (TensorInfo) s.getInputInfo().get("image").getInfo();
                assertArrayEquals(new long[] {-1, 1, -1, -1}, in.getShape());
                assertArrayEquals(new String[] {"N", "", "H", "W"}, in.getDimensionNames());
                NodeInfo out = s.getOutputInfo().get("logits");
                assertArrayEquals(new long[] {-1, 2, -1, -1}, ((TensorInfo) out.getInfo()).getShape());
                Map<String, String> meta = s.getMetadata().getCustomMetadata();
                assertTrue(meta.get("architecture").contains("\"attention-unet\""), meta.toString());
                assertEquals("{\"image_size\":\"64\"}", meta.get("preprocessing"));
                assertEquals("arunet", s.getMetadata().getProducerName());
            }
        }
    }

    @Test
    void checkpointExportCarriesPreprocessingAndSoftmax() throws Exception {
        Path ckpt = dir.resolve("m.safetensors");
        Map<String, String> pre = Map.of(
                "image_size",
                "32",
                "channels",
                "3",
                "mean",
                "0.5",
                "std",
                "0.25",
                "resize",
                "area when shrinking, bilinear when enlarging");
        ArUNetConfig c = ArUNetConfig.paper().withWidth(4).withMixerDepth(1);
        try (SegmentationModel m = new ArUNet(cpu, c, Init.Scheme.AUTHORS, 9)) {
            randomizeBatchNorm(m, 4);
            Checkpoint.save(ckpt, m, null, Map.of("preprocessing", new ObjectMapper().writeValueAsString(pre)));
            Path file = dir.resolve("ckpt.onnx");
            OnnxExporter.Result r = OnnxExporter.exportCheckpoint(ckpt, file, true);
            assertEquals(List.of("logits", "probabilities"), r.outputs());
            assertEquals(m.parameterCount(), r.parameters());
            m.eval();
            float[] x = gaussian(new SplittableRandom(8), 3 * 32 * 32);
            float[] expected = ours(m, x, 1, 32, 32);
            try (OrtSession s = session(file);
                    OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {1, 3, 32, 32});
                    OrtSession.Result out = s.run(Map.of("image", t))) {
                assertEquals(
                        new ObjectMapper().writeValueAsString(pre),
                        s.getMetadata().getCustomMetadata().get("preprocessing"));
                float[] logits = floats((OnnxTensor) out.get("logits").orElseThrow());
                float[] probs = floats((OnnxTensor) out.get("probabilities").orElseThrow());
                assertAgree("checkpoint logits", logits, expected);
                int hw = 32 * 32;
                for (int i = 0; i < hw; i++) {
                    double z = Math.exp(logits[i]) + Math.exp(logits[hw + i]);
                    assertEquals(Math.exp(logits[i]) / z, probs[i], 1e-5, "softmax over classes at " + i);
                    assertEquals(1.0, probs[i] + probs[hw + i], 1e-5);
                }
            }
        }
    }

    /** A model the exporter does not know: the error names it and no file (or temporary file) is left. */
    @Test
    void unknownModelFailsNamingItAndLeavesNoFile() throws IOException {
        try (SegmentationModel m = new ToyModel(cpu)) {
            Path file = dir.resolve("toy.onnx");
            IllegalArgumentException e =
                    assertThrows(IllegalArgumentException.class, () -> OnnxExporter.export(m, file, null));
            assertTrue(e.getMessage().contains(ToyModel.class.getName()), e.getMessage());
            assertTrue(e.getMessage().contains("toy"), e.getMessage());
            try (Stream<Path> s = Files.list(dir)) {
                assertEquals(List.of(), s.collect(Collectors.toList()));
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    /**
     * Element-wise {@code |a - e| <= RTOL (|e| + FLOOR max|e|)}: relative to each value, with a floor at
     * one hundredth of the output's largest magnitude, so that values near zero are not held to an
     * absolute agreement finer than float32 rounding of the large values gives (measured: the largest
     * |a - e| is about 1e-6 max|e| for these models, relative errors at most 3.4e-5 by this rule).
     */
    static void assertAgree(String label, float[] actual, float[] expected) {
        assertEquals(expected.length, actual.length, label + ": length");
        double max = 0;
        for (float v : expected) {
            max = Math.max(max, Math.abs(v));
        }
        assertTrue(max > 0 && Double.isFinite(max), label + ": degenerate reference output (max |x| = " + max + ")");
        double worst = 0;
        int at = -1;
        for (int i = 0; i < actual.length; i++) {
            double err = Math.abs(actual[i] - expected[i]) / (Math.abs(expected[i]) + FLOOR * max);
            if (!(err <= worst)) {
                worst = err;
                at = i;
            }
        }
        assertTrue(
                worst <= RTOL,
                String.format(
                        "%s: ONNX Runtime %s vs ours %s at [%d], relative error %.3g > %.0e",
                        label, at < 0 ? "-" : actual[at], at < 0 ? "-" : expected[at], at, worst, RTOL));
    }

    /**
     * The reference output changes with the input by a good part of its magnitude, so agreement on it
     * checks the whole graph (not only biases that dominate the logits of a badly scaled network).
     */
    static void assertInputSensitive(float[] y, float[] yOther) {
        double diff = 0;
        double max = 0;
        for (int i = 0; i < y.length; i++) {
            diff = Math.max(diff, Math.abs(y[i] - yOther[i]));
            max = Math.max(max, Math.abs(y[i]));
        }
        assertTrue(diff > 0.1 * max, "logits barely depend on the input: max change " + diff + " vs max " + max);
    }

    static OrtSession session(Path file) throws OrtException {
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(2);
            o.setInterOpNumThreads(1);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            return env.createSession(file.toString(), o);
        }
    }

    /** Our CPU backend's logits for an NCHW input, as NCHW. */
    static float[] ours(SegmentationModel m, float[] nchw, int n, int h, int w) {
        int c = m.inChannels();
        try (Tensor x = Tensor.of(Transpose.nchwToNhwc(nchw, n, c, h, w), Layout.NHWC, n, h, w, c);
                Tensor xd = m.backend().allocate(DType.F32, Layout.NHWC, n, h, w, c)) {
            xd.copyFrom(x);
            float[] y = m.forward(xd).toFloatArray();
            return Transpose.nhwcToNchw(y, n, h, w, m.classes());
        }
    }

    static float[] ort(OrtSession s, float[] nchw, int n, int c, int h, int w) throws OrtException {
        try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(nchw), new long[] {n, c, h, w});
                OrtSession.Result r = s.run(Map.of(OnnxExporter.INPUT, t))) {
            OnnxTensor y = (OnnxTensor) r.get(OnnxExporter.LOGITS).orElseThrow();
            long[] shape = y.getInfo().getShape();
            assertEquals(4, shape.length);
            assertEquals(n, shape[0]);
            assertEquals(h, shape[2]);
            assertEquals(w, shape[3]);
            return floats(y);
        }
    }

    static float[] floats(OnnxTensor t) {
        FloatBuffer b = t.getFloatBuffer();
        float[] a = new float[b.remaining()];
        b.get(a);
        return a;
    }

    static float[] gaussian(SplittableRandom rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rng.nextGaussian();
        }
        return v;
    }

    /**
     * Puts every BatchNorm in a realistic, input-sensitive state: random affine parameters, running
     * statistics first estimated by training-mode passes on random images (so that activations stay
     * near unit scale through the network instead of vanishing into the biases) and then perturbed
     * (so that they differ from any batch's statistics: only inference semantics gives our output);
     * a unit-scale head without bias, so that the logits vary with the input by their own magnitude.
     */
    static void randomizeBatchNorm(SegmentationModel m, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Module mod : m.modules()) {
            if (mod instanceof BatchNorm2d bn) {
                int c = bn.channels();
                float[] gamma = new float[c];
                float[] beta = new float[c];
                for (int i = 0; i < c; i++) {
                    gamma[i] = (float) (1 + 0.2 * r.nextGaussian());
                    beta[i] = (float) (0.1 * r.nextGaussian());
                }
                bn.weight().value().copyFrom(gamma);
                bn.bias().value().copyFrom(beta);
            }
        }
        m.train(true);
        int c = m.inChannels();
        try (Tensor x = m.backend().allocate(DType.F32, Layout.NHWC, 2, 32, 32, c)) {
            for (int pass = 0; pass < 30; pass++) {
                x.copyFrom(gaussian(r, 2 * 32 * 32 * c));
                m.forward(x);
            }
        }
        m.eval();
        Tensor head = m.stateDict().get("head.weight");
        float[] hw = gaussian(r, (int) head.numel());
        for (int i = 0; i < hw.length; i++) {
            hw[i] /= (float) Math.sqrt(head.dim(1));
        }
        head.copyFrom(hw);
        m.stateDict().get("head.bias").copyFrom(new float[m.classes()]);
        for (Module mod : m.modules()) {
            if (mod instanceof BatchNorm2d bn) {
                float[] mean = bn.runningMean().toFloatArray();
                float[] var = bn.runningVar().toFloatArray();
                for (int i = 0; i < mean.length; i++) {
                    mean[i] += (float) (0.1 * Math.sqrt(var[i]) * r.nextGaussian());
                    var[i] *= (float) (0.8 + 0.4 * r.nextDouble());
                }
                bn.runningMean().copyFrom(mean);
                bn.runningVar().copyFrom(var);
            }
        }
    }

    /** A segmentation model of another kind: one 1x1 convolution. */
    static final class ToyModel extends SegmentationModel {
        ToyModel(Backend backend) {
            super(backend);
            child("head", org.arunet.nn.Conv2d.same(backend, 3, 2, 1, true));
        }

        @Override
        public int inChannels() {
            return 3;
        }

        @Override
        public int classes() {
            return 2;
        }

        @Override
        public int sizeMultiple() {
            return 1;
        }

        @Override
        public Tensor forward(Tensor x) {
            throw new UnsupportedOperationException("not run in this test");
        }

        @Override
        public void backward(Tensor dLogits) {
            throw new UnsupportedOperationException("not run in this test");
        }

        @Override
        public Map<String, String> architecture() {
            return Map.of("arch", "toy");
        }

        @Override
        public long macs(int height, int width) {
            return 0;
        }
    }
}
