package org.arunet.train;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.Models;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Checkpoints: one safetensors file holding the model's parameters and buffers ({@code model.<name>}),
 * optionally Adam's moments ({@code optim.m.<name>}, {@code optim.v.<name>}), and JSON metadata:
 * {@code format} = "arunet-checkpoint", {@code format_version}, {@code architecture} (the model's
 * options), and whatever the writer adds (trainer configuration, epoch, optimizer steps, history,
 * provenance). Writing is atomic (see {@link SafeTensors#write}).
 *
 * <p>A checkpoint of float16 mixed-precision training also holds the dynamic loss scaler's state
 * ({@link #LOSS_SCALER}): a JSON object of strings, {@code scale}, {@code good_steps},
 * {@code skipped_steps}, {@code growth_factor}, {@code backoff_factor} and {@code growth_interval}
 * (see {@link LossScaler.State}); {@link #lossScaler} reads and checks it. Checkpoints without it (fp32
 * or bf16 training, or written before it was saved) are valid.
 */
public final class Checkpoint {
    public static final String FORMAT = "arunet-checkpoint";
    public static final String VERSION = "1";
    /** Metadata key of the loss scaler's state. */
    public static final String LOSS_SCALER = "loss_scaler";

    private static final ObjectMapper JSON = new ObjectMapper();

    private Checkpoint() {}

    /** Writes model (and optimizer, may be null) with metadata; atomic. */
    public static void save(Path file, SegmentationModel model, Adam optimizer, Map<String, String> metadata)
            throws IOException {
        save(file, model, optimizer, null, metadata);
    }

    /**
     * Writes model, optimizer and loss scaler (either may be null) with metadata; atomic. The scaler's
     * state goes to {@link #LOSS_SCALER}.
     */
    public static void save(
            Path file, SegmentationModel model, Adam optimizer, LossScaler scaler, Map<String, String> metadata)
            throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        model.stateDict().forEach((k, v) -> tensors.put("model." + k, v));
        if (optimizer != null) {
            optimizer.state().forEach((k, v) -> tensors.put("optim." + k, v));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("format_version", VERSION);
        meta.put("architecture", toJson(model.architecture()));
        if (optimizer != null) {
            meta.put("optimizer_steps", Long.toString(optimizer.steps()));
        }
        if (scaler != null) {
            meta.put(LOSS_SCALER, toJson(lossScalerMap(scaler.state())));
        }
        if (metadata != null) {
            metadata.forEach(meta::putIfAbsent);
        }
        SafeTensors.write(file, tensors, meta);
    }

    /** Opens a checkpoint and checks that it is one (format key and version). */
    public static SafeTensors.Reader open(Path file) throws IOException {
        SafeTensors.Reader r = SafeTensors.open(file);
        String format = r.metadata().get("format");
        if (!FORMAT.equals(format)) {
            r.close();
            throw new IOException(file + ": not an arunet checkpoint (format=" + format + ")");
        }
        String v = r.metadata().get("format_version");
        if (!VERSION.equals(v)) {
            r.close();
            throw new IOException(
                    file + ": checkpoint format version " + v + " is not supported (expected " + VERSION + ")");
        }
        return r;
    }

    /** The architecture recorded in a checkpoint. */
    public static Map<String, String> architecture(SafeTensors.Reader r) throws IOException {
        String a = r.metadata().get("architecture");
        if (a == null) {
            throw new IOException(r.file() + ": checkpoint has no architecture");
        }
        return fromJson(r.file(), a);
    }

    private static Map<String, String> lossScalerMap(LossScaler.State s) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("scale", Float.toString(s.scale())); // Float.toString reads back to the same float
        m.put("good_steps", Integer.toString(s.goodSteps()));
        m.put("skipped_steps", Long.toString(s.skippedSteps()));
        m.put("growth_factor", Float.toString(s.growthFactor()));
        m.put("backoff_factor", Float.toString(s.backoffFactor()));
        m.put("growth_interval", Integer.toString(s.growthInterval()));
        return m;
    }

    /**
     * The loss scaler's state recorded in a checkpoint, or null when it holds none. Every field must be
     * present and possible (a positive finite scale, {@code 0 <= good_steps < growth_interval},
     * {@code skipped_steps >= 0}, {@code growth_factor > 1}, {@code 0 < backoff_factor < 1},
     * {@code growth_interval >= 1}).
     *
     * @throws IOException naming the file and the field when the recorded state is malformed
     */
    public static LossScaler.State lossScaler(SafeTensors.Reader r) throws IOException {
        String json = r.metadata().get(LOSS_SCALER);
        if (json == null) {
            return null;
        }
        Map<String, String> m;
        try {
            m = JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
        } catch (JsonProcessingException e) {
            throw new IOException(r.file() + ": malformed " + LOSS_SCALER + " in checkpoint metadata (expected a JSON "
                    + "object of strings): " + e.getOriginalMessage());
        }
        if (m == null) {
            throw new IOException(r.file() + ": malformed " + LOSS_SCALER + " in checkpoint metadata: null");
        }
        int interval = intField(r, m, "growth_interval", 1, Integer.MAX_VALUE);
        float scale =
                field(r, m, "scale", Float::parseFloat, v -> v > 0 && v <= Float.MAX_VALUE, "a finite number > 0");
        float growth = field(
                r, m, "growth_factor", Float::parseFloat, v -> v > 1 && v <= Float.MAX_VALUE, "a finite number > 1");
        float backoff = field(r, m, "backoff_factor", Float::parseFloat, v -> v > 0 && v < 1, "a number > 0 and < 1");
        int good = intField(r, m, "good_steps", 0, interval - 1);
        long skipped = field(r, m, "skipped_steps", Long::parseLong, v -> v >= 0, "an integer >= 0");
        return new LossScaler.State(scale, good, skipped, growth, backoff, interval);
    }

    private static int intField(SafeTensors.Reader r, Map<String, String> m, String name, int min, int max)
            throws IOException {
        return field(
                r, m, name, Integer::parseInt, v -> v >= min && v <= max, "an integer in [" + min + ", " + max + "]");
    }

    private static <T> T field(
            SafeTensors.Reader r,
            Map<String, String> m,
            String name,
            Function<String, T> parse,
            Predicate<T> valid,
            String expected)
            throws IOException {
        String v = m.get(name);
        if (v == null) {
            throw new IOException(r.file() + ": malformed " + LOSS_SCALER + " in checkpoint metadata: " + LOSS_SCALER
                    + "." + name + " is missing");
        }
        T x;
        try {
            x = parse.apply(v);
        } catch (NumberFormatException e) {
            x = null;
        }
        if (x == null || !valid.test(x)) {
            throw new IOException(r.file() + ": malformed " + LOSS_SCALER + " in checkpoint metadata: " + LOSS_SCALER
                    + "." + name + " is '" + v + "', expected " + expected);
        }
        return x;
    }

    /**
     * Builds the recorded model on {@code backend} and loads its weights. The recorded architecture is
     * untrusted too: before anything is allocated it is measured ({@link #parameterBytes}) and refused
     * when its parameters need more memory than the file's model tensors hold, so that a small file
     * declaring a huge network cannot make this process allocate and initialise gigabytes.
     */
    public static SegmentationModel loadModel(Path file, Backend backend) throws IOException {
        try (SafeTensors.Reader r = open(file)) {
            Map<String, String> arch = architecture(r);
            long stored = 0;
            for (SafeTensors.Entry e : r.entries().values()) {
                if (e.name().startsWith("model.")) {
                    // float16 tensors (shipped models) are widened to float32 when loaded
                    stored += (e.end() - e.begin()) * (e.dtype() == DType.F16 ? 2 : 1);
                }
            }
            long needed;
            try {
                needed = parameterBytes(arch);
            } catch (IllegalArgumentException | ArithmeticException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
            // Parameters and buffers are all stored, so a genuine file holds at least the F32 bytes
            // the model allocates for them, gradients aside (parameterBytes counts values only).
            if (needed > stored) {
                throw new IOException(String.format(
                        Locale.ROOT,
                        "%s: the recorded architecture %s needs %,d bytes "
                                + "of parameters but the file holds %,d bytes of model tensors; refused before allocating",
                        file,
                        arch,
                        needed,
                        stored));
            }
            SegmentationModel m;
            try {
                m = Models.create(arch, backend, Init.Scheme.PYTORCH, 0);
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ": " + e.getMessage(), e);
            }
            try {
                loadInto(r, "model.", m.stateDict());
            } catch (IOException | RuntimeException e) {
                m.close();
                throw e;
            }
            return m;
        }
    }

    /**
     * Copies {@code prefix + name} tensors of the file into the given live tensors; every name must be
     * present with the same element count and dtype (or F16 in the file for an F32 tensor: widened).
     */
    public static void loadInto(SafeTensors.Reader r, String prefix, Map<String, Tensor> into) throws IOException {
        for (Map.Entry<String, Tensor> e : into.entrySet()) {
            String k = prefix + e.getKey();
            if (!r.contains(k)) {
                throw new IOException(r.file() + ": checkpoint lacks '" + k + "' (another architecture?)");
            }
            SafeTensors.Entry en = r.entry(k);
            Tensor t = e.getValue();
            boolean widened = en.dtype() == DType.F16 && t.dtype() == DType.F32;
            if (en.numel() != t.numel() || (en.dtype() != t.dtype() && !widened)) {
                throw new IOException(r.file() + ": '" + k + "' is " + en.dtype() + " "
                        + java.util.Arrays.toString(en.shape()) + " but the model expects " + t.describe());
            }
            r.readInto(k, t);
        }
    }

    /** Host copies of every {@code prefix} tensor, names stripped (the caller closes them). */
    public static Map<String, Tensor> readAll(SafeTensors.Reader r, String prefix) throws IOException {
        Map<String, Tensor> out = new HashMap<>();
        try {
            for (String k : r.entries().keySet()) {
                if (k.startsWith(prefix)) {
                    out.put(k.substring(prefix.length()), r.read(k, Layout.PLAIN));
                }
            }
        } catch (IOException | RuntimeException e) {
            out.values().forEach(Tensor::close);
            throw e;
        }
        return out;
    }

    /**
     * Bytes of F32 parameter values and F32 buffers that {@link Models#create} would allocate for
     * {@code architecture}, found by building the network on a stand-in backend whose tensors have no
     * elements: nothing of the network's size is allocated or initialised, so this is safe and cheap
     * for any architecture, however large (the count saturates at {@link Long#MAX_VALUE}).
     *
     * @throws IllegalArgumentException for an unknown or invalid architecture
     */
    public static long parameterBytes(Map<String, String> architecture) {
        try (Backend ref = Backends.reference();
                SizingBackend sizing = new SizingBackend(ref)) {
            Backend probe = (Backend)
                    Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, sizing);
            try (SegmentationModel m = Models.create(architecture, probe, Init.Scheme.PYTORCH, 0)) {
                long bytes = 0; // parameter values and buffers: what a checkpoint stores (gradients are not)
                for (Tensor t : m.stateDict().values()) {
                    bytes = saturatedAdd(bytes, sizing.requested(t));
                }
                return bytes;
            }
        }
    }

    private static long saturatedAdd(long a, long b) {
        long s = a + b;
        return s < 0 ? Long.MAX_VALUE : s;
    }

    /**
     * Answers {@code allocate} with element-free host tensors of the requested rank, remembering the
     * bytes each would have taken; every other call goes to the reference backend.
     */
    private static final class SizingBackend implements InvocationHandler, AutoCloseable {
        private final Backend delegate;
        private final Map<Tensor, Long> bytes = new IdentityHashMap<>();

        SizingBackend(Backend delegate) {
            this.delegate = delegate;
        }

        long requested(Tensor t) {
            return bytes.getOrDefault(t, 0L);
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            if (method.getName().equals("allocate") && args != null && args.length == 3) {
                DType dtype = (DType) args[0];
                Layout layout = (Layout) args[1];
                int[] shape = (int[]) args[2];
                long n = dtype.bytes();
                for (int d : shape) {
                    if (d < 0) {
                        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
                    }
                    n = d == 0 || n == 0 ? 0 : (n > Long.MAX_VALUE / d ? Long.MAX_VALUE : n * d);
                }
                Tensor t = Tensor.host(dtype, layout, new int[shape.length]);
                bytes.put(t, n);
                return t;
            }
            try {
                return method.invoke(delegate, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        @Override
        public void close() {
            bytes.clear();
        }
    }

    static String toJson(Object o) {
        try {
            return JSON.writeValueAsString(o);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static Map<String, String> fromJson(Path file, String json) throws IOException {
        try {
            return JSON.readValue(json, new TypeReference<LinkedHashMap<String, String>>() {});
        } catch (JsonProcessingException e) {
            throw new IOException(file + ": malformed checkpoint metadata: " + e.getOriginalMessage());
        }
    }
}
