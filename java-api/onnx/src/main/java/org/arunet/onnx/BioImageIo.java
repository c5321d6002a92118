package org.arunet.onnx;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import javax.imageio.ImageIO;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.arunet.data.loader.Preprocessing;
import org.arunet.io.SafeTensors;
import org.arunet.model.SegmentationModel;
import org.arunet.report.Overlays;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.tensor.Transpose;
import org.arunet.train.Checkpoint;
import org.arunet.train.Version;

/**
 * Writes a checkpoint as a bioimage.io model package (a zip), format {@value #FORMAT_VERSION} of the
 * model specification, for deepImageJ, Icy, QuPath, ilastik and the bioimage.io tools.
 *
 * <p>The package holds {@code rdf.yaml}, {@code weights.onnx} (the {@link OnnxExporter} graph, opset
 * {@value OnnxExporter#OPSET}, with the {@code probabilities} output), {@code test_input.npy} and one test
 * output per model output ({@code test_output_logits.npy}, {@code test_output_probabilities.npy}) computed
 * by arunet's own model on the CPU, {@code cover.png} (the sample with the predicted lesion outlined) and
 * {@code README.md} (what the model is, its input and preprocessing, a "Validation" section, citations).
 *
 * <p>The {@code rdf.yaml} fields, from the specification's {@code ModelDescr} (bioimageio.spec
 * {@code model/v0_5.py}): required {@code format_version}, {@code type}, {@code name}, {@code description},
 * {@code authors}, {@code cite}, {@code license}, {@code documentation}, {@code inputs} and {@code outputs}
 * (each with {@code id}, {@code axes} and {@code test_tensor}), {@code weights} ({@code onnx} with
 * {@code source}, {@code sha256} and {@code opset_version}); also {@code covers}, {@code tags},
 * {@code timestamp} and {@code config.arunet} (version, architecture, preprocessing as the checkpoint records
 * them).
 *
 * <p>Preprocessing in the specification's terms: the input tensor holds the image's stored values as
 * float32 (0 to 255 for 8-bit images), and {@code scale_linear} with {@code gain = 1 / (max * std)} and
 * {@code offset = -mean / std} (per channel when the normalisation is) gives exactly what arunet feeds the
 * network. The resizing of training (every image to {@code S x S}) is not a processing step the
 * specification has: the input axes accept any multiple of 16 (the network's size multiple), and the
 * documentation says that the model was trained on {@code S x S} images, so tiles or images of that size
 * give the results arunet gives.
 */
public final class BioImageIo {
    /** The model description format written. */
    public static final String FORMAT_VERSION = "0.5.3";

    static final String PAPER_DOI = "10.1038/s41598-025-04086-1";
    static final String BUSI_DOI = "10.1016/j.dib.2019.104863";

    private static final ObjectMapper JSON = new ObjectMapper();

    private BioImageIo() {}

    /**
     * What to write besides the model.
     *
     * @param name model name (5 to 64 characters)
     * @param description one or two sentences
     * @param license SPDX identifier of the weights' licence
     * @param sample image for the test tensors and the cover (any image arunet reads)
     */
    public record Options(String name, String description, String license, Path sample) {
        public Options {
            Objects.requireNonNull(sample, "sample");
            if (name == null || name.length() < 5 || name.length() > 64) {
                throw new IllegalArgumentException(
                        "bioimage.io model name must have 5 to 64 characters, got '" + name + "'");
            }
            if (description == null || description.isBlank()) {
                throw new IllegalArgumentException("bioimage.io model description is empty");
            }
            if (license == null || !license.matches("[A-Za-z0-9.+-]+")) {
                throw new IllegalArgumentException(
                        "license must be an SPDX identifier such as Apache-2.0, got '" + license + "'");
            }
        }
    }

    /**
     * What was written.
     *
     * @param zip the package
     * @param bytes its size
     * @param files the files in it, in order
     * @param rdf the model description as written to {@code rdf.yaml}
     */
    public record Result(Path zip, long bytes, List<String> files, Map<String, Object> rdf) {}

    /** Writes {@code checkpoint} as a package to {@code zip} (replaced atomically). */
    public static Result export(Path checkpoint, Path zip, Options options) throws IOException {
        Preprocessing prep;
        try (SafeTensors.Reader r = Checkpoint.open(checkpoint)) {
            String pre = r.metadata().get("preprocessing");
            if (pre == null) {
                throw new IOException(checkpoint + ": the checkpoint records no preprocessing, which a bioimage.io"
                        + " package must state");
            }
            prep = Preprocessing.fromMap(JSON.readValue(pre, new TypeReference<Map<String, String>>() {}));
        }
        int s = prep.imageSize();
        int c = prep.channels();
        Raster image = new ImageReader().readImage(options.sample(), prep.colorMode());
        // The model's channels (a grey image replicated for a 3-channel model, as arunet's preprocessing does).
        Raster resized = ImageReader.fromRgb(
                OpenCv.resize(image, s, s, OpenCv.Interpolation.SMOOTH), c == 3 ? ColorMode.RGB : ColorMode.GREY);
        // The test input: stored values as float32, NCHW.
        float[] inputHwc = new float[s * s * c];
        for (int i = 0; i < inputHwc.length; i++) {
            inputHwc[i] = resized.sample(i);
        }
        float[] inputNchw = Transpose.nhwcToNchw(inputHwc, 1, s, s, c);
        byte[] onnx;
        float[] logits;
        float[] probs;
        int classes;
        Map<String, String> arch;
        try (Backend be = Backends.create("cpu", 0);
                SegmentationModel m = Checkpoint.loadModel(checkpoint, be)) {
            m.eval();
            classes = m.classes();
            arch = m.architecture();
            onnx = OnnxExporter.toBytes(m, prep.toMap(), true);
            try (Tensor x = Tensor.of(prep.apply(resized), Layout.NHWC, 1, s, s, c);
                    Tensor p = be.allocate(DType.F32, Layout.NHWC, 1, s, s, classes)) {
                Tensor y = m.forward(x);
                logits = y.toFloatArray();
                be.softmax(y, p);
                probs = p.toFloatArray();
            }
        }
        byte[] mask = new byte[s * s];
        for (int i = 0; i < s * s; i++) {
            int best = 0;
            for (int k = 1; k < classes; k++) {
                if (probs[i * classes + k] > probs[i * classes + best]) {
                    best = k;
                }
            }
            mask[i] = (byte) best;
        }
        ByteArrayOutputStream cover = new ByteArrayOutputStream();
        ImageIO.write(Overlays.draw(resized, null, mask), "png", cover);

        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("weights.onnx", onnx);
        files.put("test_input.npy", Npy.float32(inputNchw, 1, c, s, s));
        files.put(
                "test_output_logits.npy",
                Npy.float32(Transpose.nhwcToNchw(logits, 1, s, s, classes), 1, classes, s, s));
        files.put(
                "test_output_probabilities.npy",
                Npy.float32(Transpose.nhwcToNchw(probs, 1, s, s, classes), 1, classes, s, s));
        files.put("cover.png", cover.toByteArray());
        files.put(
                "README.md",
                readme(options, prep, arch, classes, resized.bitDepth()).getBytes(StandardCharsets.UTF_8));
        Map<String, Object> rdf = rdf(options, prep, arch, classes, resized.bitDepth(), files);
        Map<String, byte[]> all = new LinkedHashMap<>();
        all.put("rdf.yaml", YamlWriter.write(rdf).getBytes(StandardCharsets.UTF_8));
        all.putAll(files);

        Path dir = zip.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + zip.getFileName() + ".", ".tmp");
        try {
            try (OutputStream o = Files.newOutputStream(tmp);
                    ZipOutputStream z = new ZipOutputStream(o)) {
                for (Map.Entry<String, byte[]> e : all.entrySet()) {
                    z.putNextEntry(new ZipEntry(e.getKey()));
                    z.write(e.getValue());
                    z.closeEntry();
                }
            }
            try {
                Files.move(tmp, zip, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, zip, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return new Result(zip, Files.size(zip), List.copyOf(all.keySet()), rdf);
    }

    /** The model description (see the class comment for the fields). */
    static Map<String, Object> rdf(
            Options o, Preprocessing prep, Map<String, String> arch, int classes, int bits, Map<String, byte[]> files)
            throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format_version", FORMAT_VERSION);
        m.put("type", "model");
        m.put("name", o.name());
        m.put("description", o.description());
        m.put("authors", List.of(map("name", "The arunet maintainers")));
        m.put(
                "cite",
                List.of(
                        cite(
                                "Liu et al. ARU-Net: attention residual U-Net for lesion segmentation in ultrasound images."
                                        + " Scientific Reports 15, 22155 (2025).",
                                PAPER_DOI),
                        cite(
                                "Al-Dhabyani W., Gomaa M., Khaled H., Fahmy A. Dataset of breast ultrasound images (BUSI)."
                                        + " Data in Brief 28, 104863 (2020).",
                                BUSI_DOI)));
        m.put("license", o.license());
        m.put("tags", List.of("ultrasound", "segmentation", "lesion", "breast", "2d", "onnx", "aru-net", "arunet"));
        m.put("documentation", "README.md");
        m.put("covers", List.of("cover.png"));
        m.put(
                "timestamp",
                OffsetDateTime.now(ZoneOffset.UTC).withNano(0).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));

        int c = prep.channels();
        double max = bits == 16 ? 65535.0 : 255.0;
        Map<String, Object> input = new LinkedHashMap<>();
        input.put("id", OnnxExporter.INPUT);
        input.put("description", "the image's stored values (0 to " + (int) max + "), " + (c == 1 ? "grey" : "RGB"));
        input.put(
                "axes",
                List.of(
                        map("type", "batch"),
                        map(
                                "type",
                                "channel",
                                "channel_names",
                                c == 1 ? List.of("grey") : List.of("red", "green", "blue")),
                        spaceAxis("y", map("min", 16, "step", 16)),
                        spaceAxis("x", map("min", 16, "step", 16))));
        input.put("test_tensor", file("test_input.npy", files));
        input.put("data", map("type", "float32", "range", List.of(0.0, max)));
        Map<String, Object> scale = new LinkedHashMap<>();
        if (prep.normalization().definedChannels() == 1) {
            scale.put("gain", 1 / (max * prep.normalization().std(0)));
            scale.put(
                    "offset",
                    -prep.normalization().mean(0) / prep.normalization().std(0));
        } else {
            List<Object> gain = new ArrayList<>();
            List<Object> offset = new ArrayList<>();
            for (int k = 0; k < c; k++) {
                gain.add(1 / (max * prep.normalization().std(k)));
                offset.add(-prep.normalization().mean(k) / prep.normalization().std(k));
            }
            scale.put("axis", "channel");
            scale.put("gain", gain);
            scale.put("offset", offset);
        }
        input.put(
                "preprocessing",
                List.of(
                        map("id", "ensure_dtype", "kwargs", map("dtype", "float32")),
                        map("id", "scale_linear", "kwargs", scale)));
        m.put("inputs", List.of(input));

        List<Object> classNames = new ArrayList<>();
        classNames.add("background");
        for (int k = 1; k < classes; k++) {
            classNames.add(classes == 2 ? "lesion" : "class" + k);
        }
        List<Object> outputs = new ArrayList<>();
        for (String id : List.of(OnnxExporter.LOGITS, OnnxExporter.PROBABILITIES)) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("id", id);
            out.put(
                    "description",
                    id.equals(OnnxExporter.LOGITS)
                            ? "class logits per pixel"
                            : "class probabilities per pixel (softmax of the logits over the channel axis)");
            out.put(
                    "axes",
                    List.of(
                            map("type", "batch"),
                            map("type", "channel", "channel_names", classNames),
                            spaceAxis("y", map("tensor_id", OnnxExporter.INPUT, "axis_id", "y")),
                            spaceAxis("x", map("tensor_id", OnnxExporter.INPUT, "axis_id", "x"))));
            out.put("test_tensor", file("test_output_" + id + ".npy", files));
            if (id.equals(OnnxExporter.PROBABILITIES)) {
                out.put("data", map("type", "float32", "range", List.of(0.0, 1.0)));
            }
            outputs.add(out);
        }
        m.put("outputs", outputs);

        Map<String, Object> onnx = new LinkedHashMap<>();
        onnx.putAll(file("weights.onnx", files));
        onnx.put("opset_version", OnnxExporter.OPSET);
        m.put("weights", map("onnx", onnx));

        Map<String, Object> arunet = new LinkedHashMap<>();
        arunet.put("version", Version.get());
        arunet.put("architecture", new LinkedHashMap<>(arch));
        arunet.put("preprocessing", new LinkedHashMap<>(prep.toMap()));
        m.put("config", map("arunet", arunet));
        return m;
    }

    /** An ordered map of key, value pairs (so that rdf.yaml is the same on every run). */
    private static Map<String, Object> map(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    private static Map<String, Object> cite(String text, String doi) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("text", text);
        m.put("doi", doi);
        return m;
    }

    private static Map<String, Object> spaceAxis(String id, Map<String, Object> size) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "space");
        m.put("id", id);
        m.put("size", size);
        return m;
    }

    private static Map<String, Object> file(String name, Map<String, byte[]> files) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("source", name);
        m.put("sha256", sha256(files.get(name)));
        return m;
    }

    static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String readme(Options o, Preprocessing prep, Map<String, String> arch, int classes, int bits) {
        int s = prep.imageSize();
        double max = bits == 16 ? 65535.0 : 255.0;
        StringBuilder n = new StringBuilder();
        for (int k = 0; k < prep.normalization().definedChannels(); k++) {
            n.append(k == 0 ? "" : ", ")
                    .append(String.format(
                            Locale.ROOT,
                            "mean %s, std %s",
                            prep.normalization().mean(k),
                            prep.normalization().std(k)));
        }
        return "# " + o.name() + "\n\n" + o.description() + "\n\n"
                + "Exported by arunet " + Version.get() + " from an arunet checkpoint ("
                + arch.getOrDefault("arch", "?")
                + ", " + classes + " classes). Research use; not a medical device.\n\n"
                + "## Input\n\n"
                + "`" + OnnxExporter.INPUT + "`: float32, axes batch, channel (" + prep.channels() + ", "
                + (prep.channels() == 1 ? "grey" : "RGB") + "), y, x; y and x any multiple of 16. Values are the"
                + " image's stored values (0 to " + (int) max + "); the package's `scale_linear` preprocessing turns"
                + " them into `(v / " + (int) max + " - mean) / std` (" + n
                + "), exactly what arunet gives the network.\n\n"
                + "**Size.** arunet resizes every image to " + s + " x " + s + " (area averaging when shrinking,"
                + " bilinear when enlarging) before the network and resizes the probabilities back. The specification"
                + " has no resize step: resize your image to " + s + " x " + s + " first (or use tiles of that size)"
                + " to get the results arunet gives.\n\n"
                + "## Outputs\n\n"
                + "`" + OnnxExporter.LOGITS + "` and `" + OnnxExporter.PROBABILITIES + "`: float32, batch, channel ("
                + classes + ": background" + (classes == 2 ? ", lesion" : ", class 1 ...") + "), y, x at the input's"
                + " size. The lesion mask is the pixels where lesion is the most probable class.\n\n"
                + "## Validation\n\n"
                + "`test_input.npy` run through the preprocessing and `weights.onnx` gives `test_output_*.npy`"
                + " (computed by arunet's own implementation; the package's test checks ONNX Runtime against them)."
                + " The model's accuracy on held-out data is stated by its training run (`arunet eval`) and, for the"
                + " models shipped with arunet, by their model cards (Dice, IoU and HD95 on the BUSI test split).\n\n"
                + "## Citation\n\n"
                + "ARU-Net: Liu et al., Scientific Reports 15, 22155 (2025), doi:" + PAPER_DOI + ".\n"
                + "BUSI: Al-Dhabyani et al., Data in Brief 28, 104863 (2020), doi:" + BUSI_DOI + ".\n";
    }
}
