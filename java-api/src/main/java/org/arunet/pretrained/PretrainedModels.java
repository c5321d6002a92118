package org.arunet.pretrained;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.arunet.io.SafeTensors;
import org.arunet.train.Checkpoint;

/**
 * Trained models shipped on the class path, loaded by name.
 *
 * <pre>{@code
 * try (Segmenter s = Segmenter.pretrained("busi-compact")) {      // the usual way
 *     ...
 * }
 * Path ckpt = PretrainedModels.onClassPath().checkpoint("busi-compact");  // the file, for Segmenter.builder
 * }</pre>
 *
 * <p>Models come from catalogs, {@value #CATALOG} resources on the class path: the artifact
 * {@code org.arunet:arunet-models} holds one (see its {@code README}); a team can ship its own models
 * in a jar of the same shape. A catalog lists each model's checkpoint resource, its SHA-256, the
 * architecture and preprocessing the weights must record, and a model card (Markdown).
 *
 * <p>Loading a model copies its checkpoint out of the jar into a cache folder (system property
 * {@code arunet.models.cache}, else environment variable {@code ARUNET_MODELS_CACHE}, else
 * {@code arunet-models} under {@code java.io.tmpdir}), verifying the SHA-256 while copying and again
 * whenever a cached copy is reused, and then checks that the checkpoint records exactly the
 * architecture and preprocessing its catalog entry states. A damaged or replaced file, or a card that
 * disagrees with its weights, is refused with an {@link IOException} naming the model and the
 * mismatch.
 */
public final class PretrainedModels {
    /** Class-path location of a model catalog (JSON). */
    public static final String CATALOG = "META-INF/arunet/models.json";
    /** The {@code format} value of a catalog. */
    public static final String FORMAT = "arunet-model-catalog";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");
    private static final Pattern RESOURCE = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_./-]*");
    private static final Pattern HEX = Pattern.compile("[0-9a-f]{64}");

    private final ClassLoader loader;
    private final Path cache;
    private final Map<String, ModelCard> models;

    private PretrainedModels(ClassLoader loader, Path cache) {
        this.loader = Objects.requireNonNull(loader, "loader");
        this.cache = cache;
        this.models = readCatalogs(loader);
    }

    /** The models on this class's class path (the usual registry). */
    public static PretrainedModels onClassPath() {
        return new PretrainedModels(loaderOf(PretrainedModels.class), defaultCache());
    }

    /** The models visible to {@code loader}, extracted into {@code cache}. */
    public static PretrainedModels of(ClassLoader loader, Path cache) {
        return new PretrainedModels(loader, Objects.requireNonNull(cache, "cache"));
    }

    private static ClassLoader loaderOf(Class<?> c) {
        ClassLoader l = c.getClassLoader();
        return l != null ? l : ClassLoader.getSystemClassLoader();
    }

    /** The default extraction folder (see the class comment). */
    public static Path defaultCache() {
        String p = System.getProperty("arunet.models.cache");
        if (p == null || p.isBlank()) {
            p = System.getenv("ARUNET_MODELS_CACHE");
        }
        if (p == null || p.isBlank()) {
            return Path.of(System.getProperty("java.io.tmpdir"), "arunet-models");
        }
        return Path.of(p);
    }

    /** Every known model, by name. */
    public List<ModelCard> list() {
        return List.copyOf(models.values());
    }

    /** Whether a model of this name is known. */
    public boolean contains(String name) {
        return models.containsKey(name);
    }

    /**
     * The catalog entry of a model.
     *
     * @throws UnknownModelException when no catalog on the class path has it (the message lists the
     *     known names)
     */
    public ModelCard card(String name) {
        ModelCard c = models.get(name);
        if (c == null) {
            throw new UnknownModelException(name, models.keySet());
        }
        return c;
    }

    /** The model card (Markdown) of a model. */
    public String cardText(String name) throws IOException {
        ModelCard c = card(name);
        try (InputStream in = loader.getResourceAsStream(c.card())) {
            if (in == null) {
                throw new IOException("model " + name + ": its card " + c.card() + " is not on the class path");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * The model's checkpoint as a file, verified (SHA-256, architecture, preprocessing); extracted
     * into the cache on first use.
     *
     * @throws UnknownModelException for an unknown name
     * @throws IOException when the file cannot be extracted, its checksum is wrong, or it records
     *     another architecture or preprocessing than its card
     */
    public Path checkpoint(String name) throws IOException {
        ModelCard c = card(name);
        Path dir = cache.resolve(c.sha256());
        Path file = dir.resolve(c.name() + ".safetensors");
        if (!Files.isRegularFile(file) || !c.sha256().equals(sha256(file))) {
            extract(c, dir, file);
        }
        checkAgainstCard(c, file);
        return file;
    }

    private void extract(ModelCard c, Path dir, Path file) throws IOException {
        URL url = loader.getResource(c.resource());
        if (url == null) {
            throw new IOException(
                    "model " + c.name() + ": its checkpoint " + c.resource() + " is not on the class path");
        }
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, c.name() + ".", ".part");
        try {
            String actual;
            long bytes;
            try (InputStream raw = url.openStream();
                    DigestInputStream in = new DigestInputStream(raw, sha256Digest());
                    OutputStream out = Files.newOutputStream(tmp)) {
                bytes = in.transferTo(out);
                actual = HexFormat.of().formatHex(in.getMessageDigest().digest());
            }
            if (!actual.equals(c.sha256())) {
                throw new IOException("model " + c.name() + ": checksum mismatch in " + url + " (SHA-256 " + actual
                        + ", " + bytes + " bytes; its catalog says " + c.sha256() + ", " + c.bytes()
                        + " bytes): the file is damaged or was replaced; refused");
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** Refuses a checkpoint whose recorded architecture or preprocessing differs from its card. */
    static void checkAgainstCard(ModelCard c, Path file) throws IOException {
        try (SafeTensors.Reader r = Checkpoint.open(file)) {
            compare(c, "architecture", c.architecture(), Checkpoint.architecture(r));
            String pre = r.metadata().get("preprocessing");
            Map<String, String> recorded = new TreeMap<>();
            if (pre != null) {
                try {
                    JSON.readTree(pre)
                            .fields()
                            .forEachRemaining(
                                    e -> recorded.put(e.getKey(), e.getValue().asText()));
                } catch (JsonProcessingException e) {
                    throw new IOException("model " + c.name() + ": unreadable preprocessing in " + file);
                }
            }
            compare(c, "preprocessing", c.preprocessing(), recorded);
        }
    }

    private static void compare(ModelCard c, String what, Map<String, String> card, Map<String, String> weights)
            throws IOException {
        for (Map.Entry<String, String> e : new TreeMap<>(card).entrySet()) {
            String w = weights.get(e.getKey());
            if (!e.getValue().equals(w)) {
                throw new IOException("model " + c.name() + ": its card says " + what + " " + e.getKey() + "="
                        + e.getValue() + " but its weights record " + (w == null ? "none" : e.getKey() + "=" + w)
                        + "; refused");
            }
        }
        for (String k : weights.keySet()) {
            if (!card.containsKey(k)) {
                throw new IOException("model " + c.name() + ": its weights record " + what + " " + k + "="
                        + weights.get(k) + ", which its card does not state; refused");
            }
        }
    }

    /** SHA-256 of a file, lower-case hex. */
    public static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), sha256Digest())) {
            in.transferTo(OutputStream.nullOutputStream());
            return HexFormat.of()
                    .formatHex(((DigestInputStream) in).getMessageDigest().digest());
        }
    }

    private static MessageDigest sha256Digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    // ------------------------------------------------------------------ catalogs

    private static Map<String, ModelCard> readCatalogs(ClassLoader loader) {
        Map<String, ModelCard> out = new TreeMap<>();
        Map<String, URL> from = new LinkedHashMap<>();
        try {
            Enumeration<URL> urls = loader.getResources(CATALOG);
            while (urls.hasMoreElements()) {
                URL u = urls.nextElement();
                for (ModelCard c : parse(u)) {
                    URL first = from.putIfAbsent(c.name(), u);
                    if (first != null) {
                        throw new IllegalStateException(
                                "model " + c.name() + " is defined twice: in " + first + " and in " + u);
                    }
                    out.put(c.name(), c);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("model catalogs could not be read: " + e.getMessage(), e);
        }
        return out;
    }

    /** Parses one catalog; every field is checked, errors name the catalog and the model. */
    static List<ModelCard> parse(URL url) throws IOException {
        JsonNode root;
        try (InputStream in = url.openStream()) {
            root = JSON.readTree(in);
        } catch (JsonProcessingException e) {
            throw new IOException(url + ": not a model catalog (malformed JSON: " + e.getOriginalMessage() + ")");
        }
        if (root == null
                || !FORMAT.equals(root.path("format").asText())
                || !root.path("models").isArray()) {
            throw new IOException(
                    url + ": not a model catalog (expected {\"format\": \"" + FORMAT + "\", \"models\": [...]})");
        }
        List<ModelCard> out = new ArrayList<>();
        for (JsonNode m : root.get("models")) {
            String name = text(url, m, "name", "?");
            if (!NAME.matcher(name).matches()) {
                throw new IOException(url + ": model name '" + name + "' is not allowed (lower-case letters, digits,"
                        + " '.', '_', '-')");
            }
            String resource = text(url, m, "resource", name);
            String card = text(url, m, "card", name);
            for (String r : List.of(resource, card)) {
                if (!RESOURCE.matcher(r).matches() || r.contains("..")) {
                    throw new IOException(url + ": model " + name + ": resource path '" + r + "' is not allowed");
                }
            }
            String sha = text(url, m, "sha256", name);
            if (!HEX.matcher(sha).matches()) {
                throw new IOException(url + ": model " + name + ": sha256 must be 64 lower-case hex digits");
            }
            out.add(new ModelCard(
                    name,
                    text(url, m, "version", name),
                    text(url, m, "summary", name),
                    resource,
                    sha,
                    number(url, m, "bytes", name),
                    number(url, m, "parameters", name),
                    strings(url, m, "architecture", name),
                    strings(url, m, "preprocessing", name),
                    card,
                    text(url, m, "data", name),
                    text(url, m, "intended_use", name)));
        }
        return out;
    }

    private static String text(URL url, JsonNode m, String field, String model) throws IOException {
        JsonNode v = m.get(field);
        if (v == null || !v.isTextual() || v.asText().isBlank()) {
            throw new IOException(url + ": model " + model + ": '" + field + "' is missing or not a string");
        }
        return v.asText();
    }

    private static long number(URL url, JsonNode m, String field, String model) throws IOException {
        JsonNode v = m.get(field);
        if (v == null || !v.canConvertToLong() || v.asLong() < 0) {
            throw new IOException(url + ": model " + model + ": '" + field + "' is missing or not a count");
        }
        return v.asLong();
    }

    private static Map<String, String> strings(URL url, JsonNode m, String field, String model) throws IOException {
        JsonNode v = m.get(field);
        if (v == null || !v.isObject()) {
            throw new IOException(url + ": model " + model + ": '" + field + "' is missing or not an object");
        }
        Map<String, String> out = new TreeMap<>();
        v.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    /** An unknown model name; the message lists the known ones. */
    public static final class UnknownModelException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        UnknownModelException(String name, java.util.Collection<String> known) {
            super("no model named '" + name + "'; "
                    + (known.isEmpty()
                            ? "no shipped models are on the class path (add org.arunet:arunet-models)"
                            : "known models: " + String.join(", ", known)));
        }
    }
}
