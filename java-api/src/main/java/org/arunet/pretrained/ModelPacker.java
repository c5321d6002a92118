package org.arunet.pretrained;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.SegmentationModel;
import org.arunet.tensor.DType;
import org.arunet.tensor.Half;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Checkpoint;

/**
 * Turns a trained checkpoint into a model that ships: the weights only (no optimizer state), float16
 * or float32, metadata without machine paths, and an entry in a class-path model catalog
 * ({@link PretrainedModels#CATALOG}). The output folder is laid out as a jar's content:
 *
 * <pre>
 * out/META-INF/arunet/models.json          the catalog (entries of other models are kept)
 * out/org/arunet/models/NAME.safetensors   the weights
 * out/org/arunet/models/NAME.md            the model card, when one is given
 * </pre>
 *
 * {@code jar cf my-models.jar -C out .} then gives a jar that {@link PretrainedModels} reads.
 */
public final class ModelPacker {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Pattern ABSOLUTE = Pattern.compile("^(/|[A-Za-z]:[\\\\/]|\\\\\\\\).*");

    private ModelPacker() {}

    /** What to pack and how to describe it. */
    public record Request(
            Path checkpoint,
            String name,
            String version,
            String summary,
            String data,
            String intendedUse,
            boolean float16,
            Path card) {}

    /**
     * Packs {@code r.checkpoint()} under {@code out}; returns the catalog entry written.
     *
     * @throws IOException when the checkpoint cannot be read or the output written
     */
    public static ModelCard pack(Request r, Path out) throws IOException {
        String resourceDir = "org/arunet/models/";
        Path weights = out.resolve(resourceDir + r.name() + ".safetensors");
        Files.createDirectories(weights.getParent());
        Map<String, String> architecture;
        Map<String, String> preprocessing = new TreeMap<>();
        long parameters;
        try (SafeTensors.Reader in = Checkpoint.open(r.checkpoint())) {
            architecture = new TreeMap<>(Checkpoint.architecture(in));
            String pre = in.metadata().get("preprocessing");
            if (pre == null) {
                throw new IOException(
                        r.checkpoint() + ": the checkpoint records no preprocessing; a shipped model needs"
                                + " it (train with arunet train or Trainer)");
            }
            JSON.readTree(pre)
                    .fields()
                    .forEachRemaining(
                            e -> preprocessing.put(e.getKey(), e.getValue().asText()));
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("format", Checkpoint.FORMAT);
            meta.put("format_version", Checkpoint.VERSION);
            meta.put("architecture", in.metadata().get("architecture"));
            meta.put("preprocessing", pre);
            copy(in.metadata(), meta, "classes", "trainer", "epoch", "best_epoch", "best_val_loss");
            meta.put("model", JSON.writeValueAsString(Map.of("name", r.name(), "version", r.version())));
            if (in.metadata().containsKey("provenance")) {
                meta.put("provenance", withoutPaths(in.metadata().get("provenance")));
            }
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            try {
                for (SafeTensors.Entry e : in.entries().values()) {
                    if (!e.name().startsWith("model.")) {
                        continue; // optimizer moments and the loss scaler do not ship
                    }
                    Tensor t = in.read(e.name(), Layout.PLAIN);
                    if (r.float16() && t.dtype() == DType.F32) {
                        Tensor h = toHalf(t);
                        t.close();
                        t = h;
                    }
                    tensors.put(e.name(), t);
                }
                SafeTensors.write(weights, tensors, meta);
            } finally {
                tensors.values().forEach(Tensor::close);
            }
        }
        try (Backend ref = Backends.reference();
                SegmentationModel m = Checkpoint.loadModel(weights, ref)) {
            parameters = m.parameterCount();
        }
        String cardResource = resourceDir + r.name() + ".md";
        if (r.card() != null) {
            Files.copy(r.card(), out.resolve(cardResource), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        ModelCard card = new ModelCard(
                r.name(),
                r.version(),
                r.summary(),
                resourceDir + r.name() + ".safetensors",
                PretrainedModels.sha256(weights),
                Files.size(weights),
                parameters,
                architecture,
                preprocessing,
                cardResource,
                r.data(),
                r.intendedUse());
        writeCatalogEntry(out.resolve(PretrainedModels.CATALOG), card);
        PretrainedModels.checkAgainstCard(card, weights);
        return card;
    }

    private static void copy(Map<String, String> from, Map<String, String> to, String... keys) {
        for (String k : keys) {
            if (from.containsKey(k)) {
                to.put(k, from.get(k));
            }
        }
    }

    private static Tensor toHalf(Tensor f) {
        float[] v = f.toFloatArray();
        byte[] b = new byte[2 * v.length];
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            buf.putShort(Half.fromFloat(x));
        }
        Tensor h = Tensor.host(DType.F16, f.layout(), f.shape());
        h.copyFromBytes(b);
        return h;
    }

    /** The provenance JSON with every absolute path replaced by its last element. */
    static String withoutPaths(String provenanceJson) throws IOException {
        JsonNode n = JSON.readTree(provenanceJson);
        if (!(n instanceof ObjectNode o)) {
            return provenanceJson;
        }
        Iterator<Map.Entry<String, JsonNode>> it = o.fields();
        Map<String, String> fixed = new LinkedHashMap<>();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String v = e.getValue().asText();
            if (e.getValue().isTextual() && ABSOLUTE.matcher(v).matches()) {
                String s = v.replace('\\', '/');
                while (s.endsWith("/") && s.length() > 1) {
                    s = s.substring(0, s.length() - 1);
                }
                fixed.put(e.getKey(), s.substring(s.lastIndexOf('/') + 1));
            }
        }
        fixed.forEach(o::put);
        return new ObjectMapper().writeValueAsString(o);
    }

    private static void writeCatalogEntry(Path catalog, ModelCard c) throws IOException {
        ObjectNode root;
        if (Files.exists(catalog)) {
            root = (ObjectNode) JSON.readTree(catalog.toFile());
        } else {
            root = JSON.createObjectNode();
            root.put("format", PretrainedModels.FORMAT);
            root.put("format_version", "1");
            root.putArray("models");
        }
        ArrayNode models = (ArrayNode) root.get("models");
        for (int i = models.size() - 1; i >= 0; i--) {
            if (c.name().equals(models.get(i).path("name").asText())) {
                models.remove(i);
            }
        }
        ObjectNode m = models.addObject();
        m.put("name", c.name());
        m.put("version", c.version());
        m.put("summary", c.summary());
        m.put("resource", c.resource());
        m.put("sha256", c.sha256());
        m.put("bytes", c.bytes());
        m.put("parameters", c.parameters());
        m.set("architecture", JSON.valueToTree(new TreeMap<>(c.architecture())));
        m.set("preprocessing", JSON.valueToTree(new TreeMap<>(c.preprocessing())));
        m.put("card", c.card());
        m.put("data", c.data());
        m.put("intended_use", c.intendedUse());
        Files.createDirectories(catalog.getParent());
        Path tmp = catalog.resolveSibling(catalog.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), root);
        Files.move(tmp, catalog, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
