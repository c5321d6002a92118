package org.arunet.onnx;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import onnx.Onnx.ModelProto;
import onnx.Onnx.OperatorSetIdProto;
import onnx.Onnx.StringStringEntryProto;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.SegmentationModel;
import org.arunet.train.Checkpoint;
import org.arunet.train.Version;

/**
 * Writes a model with its weights as an ONNX file that ONNX Runtime (or any ONNX consumer of opset
 * {@value #OPSET}) runs without arunet.
 *
 * <pre>{@code
 * OnnxExporter.export(model, Path.of("aru-net.onnx"), preprocessing.toMap());
 * OnnxExporter.exportCheckpoint(Path.of("runs/busi/checkpoints/best.safetensors"), Path.of("busi.onnx"), false);
 * }</pre>
 *
 * <p><b>The graph.</b> Input {@value #INPUT}: float32 {@code [N, C, H, W]}, <b>NCHW</b> (the ONNX
 * convention, not our internal NHWC), with symbolic {@code N}, {@code H}, {@code W} (any batch, any size
 * that is a multiple of the model's {@link SegmentationModel#sizeMultiple()}, 16), {@code C} fixed to the
 * model's input channels; values preprocessed as in training (the {@code preprocessing} metadata).
 * Output {@value #LOGITS}: float32 {@code [N, classes, H, W]}, and with {@code probabilities} also
 * {@value #PROBABILITIES}, the softmax over classes. Inference semantics: BatchNorm with its running
 * statistics, whatever mode the model is in. Nodes are named after our module paths
 * ({@code dec3.mcsa.g_bn}), initializers after the state-dict names ({@code dec3.mcsa.g_bn.running_var}).
 *
 * <p><b>Metadata</b> ({@code metadata_props}): {@code arunet_version}, {@code architecture} and
 * {@code preprocessing} (JSON objects, as in checkpoints), {@code input_layout} = {@code NCHW},
 * {@code size_multiple}, {@code classes}.
 *
 * <p>Supported: ARU-Net with every option of {@link org.arunet.model.ArUNetConfig}, U-Net and Attention
 * U-Net. Any other model, or a module the exporter does not know, fails with an
 * {@link IllegalArgumentException} naming it.
 */
public final class OnnxExporter {
    /** ONNX operator set of the exported graphs (ONNX 1.12+; Erf, Resize, BatchNormalization-15, ...). */
    public static final int OPSET = 17;
    /** IR version that goes with opset 17. */
    public static final int IR_VERSION = 8;

    public static final String INPUT = "image";
    public static final String LOGITS = "logits";
    public static final String PROBABILITIES = "probabilities";

    private static final ObjectMapper JSON = new ObjectMapper();

    private OnnxExporter() {}

    /**
     * What was written.
     *
     * @param file the ONNX file
     * @param bytes its size
     * @param opset the ONNX operator set it imports
     * @param nodes graph nodes
     * @param initializers initializer tensors (weights, BatchNorm statistics, a few constants)
     * @param parameters trainable scalars of the model
     * @param outputs output names ({@value #LOGITS}, and {@value #PROBABILITIES} when asked for)
     * @param metadata the {@code metadata_props} written
     */
    public record Result(
            Path file,
            long bytes,
            int opset,
            int nodes,
            int initializers,
            long parameters,
            List<String> outputs,
            Map<String, String> metadata) {}

    /** Writes {@code model} (logits only) to {@code out}; {@code preprocessing} may be null. */
    public static Result export(SegmentationModel model, Path out, Map<String, String> preprocessing)
            throws IOException {
        return export(model, out, preprocessing, false);
    }

    /**
     * Writes {@code model} to {@code out} (replacing it atomically: a failed export leaves no partial file).
     *
     * @param preprocessing how inputs are prepared (as {@code Preprocessing.toMap()}, recorded in the
     *     checkpoint); null when unknown
     * @param probabilities also output the softmax over classes
     * @throws IllegalArgumentException when the model or one of its modules cannot be exported (named)
     */
    public static Result export(
            SegmentationModel model, Path out, Map<String, String> preprocessing, boolean probabilities)
            throws IOException {
        Objects.requireNonNull(out, "out");
        Built b = build(model, preprocessing, probabilities);
        Path dir = out.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + out.getFileName() + ".", ".tmp");
        long bytes;
        try {
            try (OutputStream o = new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                b.proto.writeTo(o);
            }
            bytes = Files.size(tmp);
            try {
                Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        return new Result(out, bytes, OPSET, b.nodes, b.initializers, model.parameterCount(), b.outputs, b.metadata);
    }

    /**
     * Exports a checkpoint's model with the preprocessing it records (weights read on the pure-Java
     * reference backend; nothing native is needed).
     */
    public static Result exportCheckpoint(Path checkpoint, Path out, boolean probabilities) throws IOException {
        Map<String, String> pre = null;
        try (SafeTensors.Reader r = Checkpoint.open(checkpoint)) {
            String json = r.metadata().get("preprocessing");
            if (json != null) {
                try {
                    pre = JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
                } catch (JsonProcessingException e) {
                    throw new IOException(
                            checkpoint + ": unreadable preprocessing metadata: " + e.getOriginalMessage());
                }
            }
        }
        try (Backend be = Backends.reference();
                SegmentationModel m = Checkpoint.loadModel(checkpoint, be)) {
            return export(m, out, pre, probabilities);
        }
    }

    /** The serialized ONNX model, as {@link #export} would write it. */
    public static byte[] toBytes(SegmentationModel model, Map<String, String> preprocessing, boolean probabilities) {
        return build(model, preprocessing, probabilities).proto.toByteArray();
    }

    /** The model as an ONNX protobuf message (for inspection in tests). */
    static ModelProto toProto(SegmentationModel model, Map<String, String> preprocessing, boolean probabilities) {
        return build(model, preprocessing, probabilities).proto;
    }

    private record Built(
            ModelProto proto, int nodes, int initializers, List<String> outputs, Map<String, String> metadata) {}

    private static Built build(SegmentationModel model, Map<String, String> preprocessing, boolean probabilities) {
        Objects.requireNonNull(model, "model");
        Map<String, String> arch = model.architecture();
        String name = arch.getOrDefault("arch", model.getClass().getSimpleName());
        OnnxGraph g = new OnnxGraph(
                name,
                "arunet " + name + " " + arch + ": " + INPUT + " NCHW [N, " + model.inChannels() + ", H, W] -> "
                        + LOGITS + " [N, " + model.classes() + ", H, W]");
        String image = g.input(
                INPUT,
                "float32 NCHW [N, " + model.inChannels() + ", H, W], H and W multiples of " + model.sizeMultiple()
                        + ", preprocessed as the 'preprocessing' metadata says",
                "N",
                model.inChannels(),
                "H",
                "W");
        new NetworkWriter(model, g).write(image, LOGITS);
        List<String> outputs = new ArrayList<>();
        g.output(LOGITS, "float32 NCHW [N, classes, H, W]: class logits per pixel", "N", model.classes(), "H", "W");
        outputs.add(LOGITS);
        if (probabilities) {
            g.node("Softmax", "softmax", PROBABILITIES, OnnxGraph.in(LOGITS), OnnxGraph.intAttr("axis", 1));
            g.output(
                    PROBABILITIES,
                    "float32 NCHW [N, classes, H, W]: softmax of the logits over classes",
                    "N",
                    model.classes(),
                    "H",
                    "W");
            outputs.add(PROBABILITIES);
        }

        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("arunet_version", Version.get());
        meta.put("architecture", json(arch));
        if (preprocessing != null) {
            meta.put("preprocessing", json(preprocessing));
        }
        meta.put("input_layout", "NCHW");
        meta.put("size_multiple", Integer.toString(model.sizeMultiple()));
        meta.put("classes", Integer.toString(model.classes()));

        ModelProto.Builder m = ModelProto.newBuilder()
                .setIrVersion(IR_VERSION)
                .setProducerName("arunet")
                .setProducerVersion(Version.get())
                .setDomain("org.arunet")
                .setModelVersion(1)
                .setDocString("ARU-Net family segmentation model exported by arunet (" + name + ")")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                .setGraph(g.build());
        for (Map.Entry<String, String> e : meta.entrySet()) {
            m.addMetadataProps(
                    StringStringEntryProto.newBuilder().setKey(e.getKey()).setValue(e.getValue()));
        }
        return new Built(
                m.build(),
                g.nodeCount(),
                g.initializerCount(),
                Collections.unmodifiableList(outputs),
                Collections.unmodifiableMap(meta));
    }

    private static String json(Map<String, String> m) {
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
