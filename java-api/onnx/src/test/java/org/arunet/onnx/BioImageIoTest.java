package org.arunet.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import javax.imageio.ImageIO;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * The bioimage.io package end to end: written from a tiny checkpoint, unpacked, its {@code rdf.yaml}
 * parsed by SnakeYAML and checked against the 0.5 specification's required fields, and its ONNX weights
 * run in ONNX Runtime on the test input, preprocessed as the YAML says, giving the test outputs arunet
 * computed.
 */
class BioImageIoTest {
    @TempDir
    Path dir;

    private Path checkpoint(int channels, String mean, String std) throws IOException {
        Path f = dir.resolve("tiny-" + channels + ".safetensors");
        Map<String, String> pre = Map.of(
                "image_size",
                "32",
                "channels",
                Integer.toString(channels),
                "mean",
                mean,
                "std",
                std,
                "resize",
                "area when shrinking, bilinear when enlarging");
        try (Backend be = Backends.cpu(2);
                SegmentationModel m = new ArUNet(
                        be,
                        ArUNetConfig.paper().withWidth(4).withMixerDepth(2).withInChannels(channels),
                        Init.Scheme.PYTORCH,
                        5)) {
            Checkpoint.save(f, m, null, Map.of("preprocessing", new ObjectMapper().writeValueAsString(pre)));
        }
        return f;
    }

    private Path sample(boolean colour) throws IOException {
        BufferedImage img =
                new BufferedImage(48, 40, colour ? BufferedImage.TYPE_3BYTE_BGR : BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 40; y++) {
            for (int x = 0; x < 48; x++) {
                int v = Math.hypot(x - 24, y - 20) < 10 ? 210 : 40 + (x * 3 + y) % 30;
                img.setRGB(x, y, colour ? (v << 16) | ((v / 2) << 8) | (255 - v) : (v << 16) | (v << 8) | v);
            }
        }
        Path f = dir.resolve(colour ? "sample-rgb.png" : "sample.png");
        ImageIO.write(img, "png", f.toFile());
        return f;
    }

    @Test
    void greyModelPackageRunsInOnnxRuntimeAsTheYamlSays() throws Exception {
        checkPackage(checkpoint(1, "0.5", "0.5"), sample(false), 1);
    }

    @Test
    void perChannelNormalisationIsStatedPerChannel() throws Exception {
        Map<String, Object> rdf =
                checkPackage(checkpoint(3, "0.485,0.456,0.406", "0.229,0.224,0.225"), sample(true), 3);
        Map<String, Object> scale = kwargs(rdf, "scale_linear");
        assertEquals("channel", scale.get("axis"));
        assertEquals(3, ((List<?>) scale.get("gain")).size());
    }

    @Test
    void aCheckpointWithoutPreprocessingIsRefused() throws Exception {
        Path f = dir.resolve("bare.safetensors");
        try (Backend be = Backends.cpu(2);
                SegmentationModel m =
                        new ArUNet(be, ArUNetConfig.paper().withWidth(4).withMixerDepth(2), Init.Scheme.PYTORCH, 5)) {
            Checkpoint.save(f, m, null, Map.of());
        }
        IOException e = assertThrows(
                IOException.class,
                () -> BioImageIo.export(
                        f, dir.resolve("x.zip"), new BioImageIo.Options("A model", "d", "MIT", sample(false))));
        assertTrue(e.getMessage().contains("records no preprocessing"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("x.zip")));
        assertThrows(IllegalArgumentException.class, () -> new BioImageIo.Options("abc", "d", "MIT", dir));
        assertThrows(IllegalArgumentException.class, () -> new BioImageIo.Options("A model", "d", "no spaces!", dir));
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> checkPackage(Path checkpoint, Path sample, int channels) throws Exception {
        Path zip = dir.resolve("model-" + channels + ".zip");
        BioImageIo.Result r = BioImageIo.export(
                checkpoint,
                zip,
                new BioImageIo.Options(
                        "ARU-Net tiny test model",
                        "A tiny untrained ARU-Net for the package test.",
                        "Apache-2.0",
                        sample));
        assertEquals(Files.size(zip), r.bytes());
        Map<String, byte[]> files = unzip(zip);
        assertEquals(r.files(), List.copyOf(files.keySet()));
        Map<String, Object> rdf = new Yaml().load(new String(files.get("rdf.yaml"), StandardCharsets.UTF_8));

        // Required fields of ModelDescr (format 0.5): bioimageio.spec model/v0_5.py and generic/v0_3.py.
        assertTrue(((String) rdf.get("format_version")).startsWith("0.5."), rdf.toString());
        assertEquals("model", rdf.get("type"));
        String name = (String) rdf.get("name");
        assertTrue(name.length() >= 5 && name.length() <= 64);
        assertFalse(((String) rdf.get("description")).isBlank());
        List<Map<String, Object>> authors = (List<Map<String, Object>>) rdf.get("authors");
        assertFalse(authors.isEmpty());
        authors.forEach(a -> assertTrue(a.get("name") instanceof String));
        List<Map<String, Object>> cite = (List<Map<String, Object>>) rdf.get("cite");
        assertEquals(2, cite.size());
        for (Map<String, Object> c : cite) {
            assertTrue(c.get("text") instanceof String && (c.containsKey("doi") || c.containsKey("url")), c.toString());
        }
        assertEquals(
                List.of(BioImageIo.PAPER_DOI, BioImageIo.BUSI_DOI),
                cite.stream().map(c -> c.get("doi")).toList());
        assertEquals("Apache-2.0", rdf.get("license"));
        String doc = (String) rdf.get("documentation");
        assertTrue(doc.endsWith(".md") && files.containsKey(doc));
        assertTrue(new String(files.get(doc), StandardCharsets.UTF_8).contains("## Validation"));
        for (Object cover : (List<Object>) rdf.get("covers")) {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(files.get((String) cover)));
            assertEquals(32, img.getWidth());
        }
        Map<String, Object> weights = (Map<String, Object>) ((Map<String, Object>) rdf.get("weights")).get("onnx");
        assertEquals(17, weights.get("opset_version"));
        checkFile(weights, files);

        List<Map<String, Object>> inputs = (List<Map<String, Object>>) rdf.get("inputs");
        List<Map<String, Object>> outputs = (List<Map<String, Object>>) rdf.get("outputs");
        assertEquals(1, inputs.size());
        assertEquals(2, outputs.size());
        for (Map<String, Object> t : concat(inputs, outputs)) {
            assertTrue(t.get("id") instanceof String);
            List<Map<String, Object>> axes = (List<Map<String, Object>>) t.get("axes");
            assertEquals(
                    List.of("batch", "channel", "space", "space"),
                    axes.stream().map(a -> a.get("type")).toList());
            assertEquals(
                    List.of("y", "x"),
                    axes.subList(2, 4).stream().map(a -> a.get("id")).toList());
            checkFile((Map<String, Object>) t.get("test_tensor"), files);
        }
        assertEquals(
                channels,
                ((List<?>) ((Map<String, Object>) ((List<?>) inputs.get(0).get("axes")).get(1)).get("channel_names"))
                        .size());

        // Preprocess the test input as rdf.yaml states, run the ONNX weights, compare with the test outputs.
        Map<String, Object> in = inputs.get(0);
        float[] x = npy((String) ((Map<String, Object>) in.get("test_tensor")).get("source"), files, new long[] {
            1, channels, 32, 32
        });
        List<Map<String, Object>> pre = (List<Map<String, Object>>) in.get("preprocessing");
        assertEquals("ensure_dtype", pre.get(0).get("id"));
        assertEquals("float32", ((Map<String, Object>) pre.get(0).get("kwargs")).get("dtype"));
        Map<String, Object> scale = kwargs(rdf, "scale_linear");
        for (int c = 0; c < channels; c++) {
            double gain = value(scale.get("gain"), c);
            double offset = value(scale.get("offset"), c);
            for (int i = c * 32 * 32; i < (c + 1) * 32 * 32; i++) {
                x[i] = (float) (x[i] * gain + offset);
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession s = env.createSession(files.get("weights.onnx"), new OrtSession.SessionOptions());
                OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), new long[] {1, channels, 32, 32});
                OrtSession.Result res = s.run(Map.of((String) in.get("id"), t))) {
            for (Map<String, Object> out : outputs) {
                String id = (String) out.get("id");
                float[] expected =
                        npy((String) ((Map<String, Object>) out.get("test_tensor")).get("source"), files, new long[] {
                            1, 2, 32, 32
                        });
                float[][][][] got = (float[][][][]) res.get(id).orElseThrow().getValue();
                double worst = 0;
                double scaleOf = 0;
                for (int k = 0; k < 2; k++) {
                    for (int y = 0; y < 32; y++) {
                        for (int xx = 0; xx < 32; xx++) {
                            float e = expected[(k * 32 + y) * 32 + xx];
                            worst = Math.max(worst, Math.abs(e - got[0][k][y][xx]));
                            scaleOf = Math.max(scaleOf, Math.abs(e));
                        }
                    }
                }
                assertTrue(worst <= 1e-3 * Math.max(1, scaleOf), id + ": ONNX Runtime differs by " + worst);
            }
        }
        return rdf;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> kwargs(Map<String, Object> rdf, String id) {
        Map<String, Object> in = ((List<Map<String, Object>>) rdf.get("inputs")).get(0);
        return ((List<Map<String, Object>>) in.get("preprocessing"))
                .stream()
                        .filter(p -> p.get("id").equals(id))
                        .map(p -> (Map<String, Object>) p.get("kwargs"))
                        .findFirst()
                        .orElseThrow();
    }

    private static double value(Object v, int channel) {
        return v instanceof List<?> l ? ((Number) l.get(channel)).doubleValue() : ((Number) v).doubleValue();
    }

    private static List<Map<String, Object>> concat(List<Map<String, Object>> a, List<Map<String, Object>> b) {
        List<Map<String, Object>> all = new java.util.ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    private static void checkFile(Map<String, Object> descr, Map<String, byte[]> files) {
        String source = (String) descr.get("source");
        assertTrue(files.containsKey(source), source + " is not in the package");
        assertEquals(BioImageIo.sha256(files.get(source)), descr.get("sha256"), source);
    }

    private static Map<String, byte[]> unzip(Path zip) throws IOException {
        Map<String, byte[]> m = new LinkedHashMap<>();
        try (ZipInputStream z = new ZipInputStream(Files.newInputStream(zip))) {
            for (ZipEntry e; (e = z.getNextEntry()) != null; ) {
                m.put(e.getName(), z.readAllBytes());
            }
        }
        return m;
    }

    private static final Pattern SHAPE = Pattern.compile("'shape': \\(([0-9, ]*)\\)");

    /** Parses a .npy file as numpy documents the format, checking dtype, order and shape. */
    static float[] npy(String name, Map<String, byte[]> files, long[] shape) {
        byte[] b = files.get(name);
        assertEquals((byte) 0x93, b[0]);
        assertEquals("NUMPY", new String(b, 1, 5, StandardCharsets.US_ASCII));
        int headerLen = (b[8] & 0xFF) | ((b[9] & 0xFF) << 8);
        assertEquals(0, (10 + headerLen) % 64, "header padded to 64 bytes");
        String header = new String(b, 10, headerLen, StandardCharsets.US_ASCII);
        assertTrue(header.endsWith("\n"));
        assertTrue(header.contains("'descr': '<f4'") && header.contains("'fortran_order': False"), header);
        Matcher m = SHAPE.matcher(header);
        assertTrue(m.find(), header);
        long[] got = Arrays.stream(m.group(1).split(","))
                .map(String::trim)
                .filter(s -> !s.isEmpty())
                .mapToLong(Long::parseLong)
                .toArray();
        assertTrue(Arrays.equals(shape, got), name + " shape " + Arrays.toString(got));
        float[] out = new float[(b.length - 10 - headerLen) / 4];
        ByteBuffer.wrap(b, 10 + headerLen, 4 * out.length)
                .order(ByteOrder.LITTLE_ENDIAN)
                .asFloatBuffer()
                .get(out);
        assertEquals(Arrays.stream(shape).reduce(1, (p, q) -> p * q), out.length);
        return out;
    }

    @Test
    void yamlWriterRoundTripsTrickyValuesThroughSnakeYaml() {
        Map<String, Object> m = new LinkedHashMap<>();
        List<Object> tricky = List.of(
                "yes",
                "no",
                "null",
                "~",
                "1.0",
                "0x10",
                "a: b",
                "#comment",
                "- dash",
                "quote\"s",
                "back\\slash",
                "line\nbreak",
                "tab\there",
                "ünïcödé",
                "",
                " leading space",
                "[list]",
                "{map}",
                "*ref",
                "&a",
                "!tag",
                "%directive",
                "@at",
                "`tick`");
        m.put("strings", tricky);
        m.put("numbers", List.of(1, -2L, 0.5, 1e-12, 3.0));
        m.put("flag", true);
        m.put("nested", List.of(Map.of("a", 1), new LinkedHashMap<>(Map.of("b", List.of("x", "y")))));
        m.put("empty", List.of());
        m.put("deep", Map.of("deeper", Map.of("deepest", "v")));
        Map<String, Object> back = new Yaml().load(YamlWriter.write(m));
        assertEquals(tricky, back.get("strings"));
        assertEquals(List.of(1, -2, 0.5, 1e-12, 3.0), back.get("numbers"));
        assertEquals(true, back.get("flag"));
        assertEquals(List.of(Map.of("a", 1), Map.of("b", List.of("x", "y"))), back.get("nested"));
        assertEquals(List.of(), back.get("empty"));
        assertEquals(Map.of("deeper", Map.of("deepest", "v")), back.get("deep"));
        assertThrows(IllegalArgumentException.class, () -> YamlWriter.write(Map.of("bad key", 1)));
        assertThrows(IllegalArgumentException.class, () -> YamlWriter.write(Map.of("nan", Double.NaN)));
    }

    @Test
    void npyWriterFollowsTheFormat() {
        Map<String, byte[]> f = new HashMap<>();
        float[] data = {1.5f, -2f, 3.25f, 0f, 7f, 8f};
        f.put("a.npy", Npy.float32(data, 2, 3));
        assertTrue(Arrays.equals(data, npy("a.npy", f, new long[] {2, 3})));
        f.put("b.npy", Npy.float32(new float[] {4f}, 1));
        assertTrue(new String(f.get("b.npy"), StandardCharsets.US_ASCII).contains("'shape': (1,)"));
        assertThrows(IllegalArgumentException.class, () -> Npy.float32(data, 4, 2));
    }
}
