package org.arunet.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.backend.Precision;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Every convolution of the default ARU-Net at a 1 x 3 x 256 x 256 input (batch {@code batch}), one
 * pass at a time, as the model runs it:
 * <ul>
 *   <li>{@code inference}: {@link Backend#convForwardFused} with the layer's inference epilogue (batch
 *       norm folded, ReLU / sigmoid / GELU and the residual or gate operands as post-ops; the fusion
 *       convolutions with their two input blocks; the upsampling convolutions from the low-resolution
 *       input); {@code precision=bf16} for bf16 arithmetic;
 *   <li>{@code training}: the training-mode forward; {@code backwardData}, {@code backwardWeights}.
 * </ul>
 * The split fusion layers run training passes on the whole concatenated input (one convolution).
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar ConvBenchmark -p pass=inference
 *   java -jar benchmarks/target/benchmarks.jar ConvBenchmark -p layer=enc3.b_3x3_256@64,dec1.mcsa.d_dil2_64@256
 * </pre>
 * Layer names: {@code <where>_<kind>_<channels>@<input side>}; GFLOP/s = 2 x batch x MACs / time with
 * MACs from the table printed by {@link #main}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx2g", "-XX:+UseSerialGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ConvBenchmark {
    /** One layer: its spec, input side, how the model runs it, and its inference epilogue. */
    record Layer(Conv2dSpec spec, int size, Kind kind, Activation act, Extra extra) {
        long macs() {
            int s = kind == Kind.UP ? 2 * size : size;
            return spec.macs(spec.outH(s), spec.outW(s));
        }
    }

    enum Kind {
        PLAIN,
        UP,
        SPLIT
    }

    /** Tensor operands of the inference epilogue after the activation. */
    enum Extra {
        NONE,
        SUM,
        ADD,
        MUL_ADD
    }

    static final Map<String, Layer> LAYERS = new LinkedHashMap<>();

    static {
        int[] c = {64, 128, 256, 512, 1024};
        add(
                "stem.a_3x3_3-64@256",
                Conv2dSpec.same(3, 64, 3, 1, 1, false),
                256,
                Kind.PLAIN,
                Activation.RELU,
                Extra.NONE);
        add("stem.b_3x3_64@256", Conv2dSpec.same(64, 64, 3, 1, 1, false), 256, Kind.PLAIN, Activation.RELU, Extra.ADD);
        for (int l = 1; l < 5; l++) {
            int s = 256 >> l;
            String e = "enc" + (l + 1);
            add(
                    e + ".shortcut_1x1_" + c[l - 1] + "-" + c[l] + "@" + s,
                    Conv2dSpec.same(c[l - 1], c[l], 1, 1, 1, false),
                    s,
                    Kind.PLAIN,
                    Activation.NONE,
                    Extra.NONE);
            add(
                    e + ".a_3x3_" + c[l - 1] + "-" + c[l] + "@" + s,
                    Conv2dSpec.same(c[l - 1], c[l], 3, 1, 1, false),
                    s,
                    Kind.PLAIN,
                    Activation.RELU,
                    Extra.SUM);
            add(
                    e + ".b_3x3_" + c[l] + "@" + s,
                    Conv2dSpec.same(c[l], c[l], 3, 1, 1, false),
                    s,
                    Kind.PLAIN,
                    Activation.RELU,
                    Extra.ADD);
        }
        add("sa_7x7_2-1@16", Conv2dSpec.same(2, 1, 7, 1, 1, false), 16, Kind.PLAIN, Activation.SIGMOID, Extra.NONE);
        add(
                "mixer.dw_dw3x3_1024@16",
                Conv2dSpec.same(1024, 1024, 3, 1, 1024, true),
                16,
                Kind.PLAIN,
                Activation.GELU,
                Extra.NONE);
        add(
                "mixer.pw_1x1_1024@16",
                Conv2dSpec.same(1024, 1024, 1, 1, 1, true),
                16,
                Kind.PLAIN,
                Activation.GELU,
                Extra.ADD);
        for (int l = 4; l >= 1; l--) {
            int s = 256 >> (l - 1);
            String d = "dec" + l;
            add(
                    d + ".up_up3x3_" + c[l] + "-" + c[l - 1] + "@" + (s / 2),
                    Conv2dSpec.same(c[l], c[l - 1], 3, 1, 1, true),
                    s / 2,
                    Kind.UP,
                    Activation.RELU,
                    Extra.NONE);
            if (l < 4) {
                int m = c[l - 1];
                add(
                        d + ".mcsa.p_1x1_" + m + "@" + s,
                        Conv2dSpec.same(m, m, 1, 1, 1, true),
                        s,
                        Kind.PLAIN,
                        Activation.RELU,
                        Extra.NONE);
                add(
                        d + ".mcsa.o_3x3_" + m + "@" + s,
                        Conv2dSpec.same(m, m, 3, 1, 1, true),
                        s,
                        Kind.PLAIN,
                        Activation.RELU,
                        Extra.NONE);
                add(
                        d + ".mcsa.d_dil2_" + m + "@" + s,
                        Conv2dSpec.same(m, m, 3, 2, 1, true),
                        s,
                        Kind.PLAIN,
                        Activation.NONE,
                        Extra.MUL_ADD);
                add(
                        d + ".mcsa.g_split1x1_" + 2 * m + "-" + m + "@" + s,
                        Conv2dSpec.same(2 * m, m, 1, 1, 1, true),
                        s,
                        Kind.SPLIT,
                        Activation.SIGMOID,
                        Extra.NONE);
            }
            add(
                    d + ".fuse_split3x3_" + 2 * c[l - 1] + "-" + c[l - 1] + "@" + s,
                    Conv2dSpec.same(2 * c[l - 1], c[l - 1], 3, 1, 1, true),
                    s,
                    Kind.SPLIT,
                    Activation.RELU,
                    Extra.NONE);
        }
        add("head_1x1_64-2@256", Conv2dSpec.same(64, 2, 1, 1, 1, true), 256, Kind.PLAIN, Activation.NONE, Extra.NONE);
    }

    private static void add(String name, Conv2dSpec spec, int size, Kind kind, Activation act, Extra extra) {
        LAYERS.put(name, new Layer(spec, size, kind, act, extra));
    }

    @Param({
        "stem.a_3x3_3-64@256",
        "stem.b_3x3_64@256",
        "enc2.shortcut_1x1_64-128@128",
        "enc2.a_3x3_64-128@128",
        "enc2.b_3x3_128@128",
        "enc3.shortcut_1x1_128-256@64",
        "enc3.a_3x3_128-256@64",
        "enc3.b_3x3_256@64",
        "enc4.shortcut_1x1_256-512@32",
        "enc4.a_3x3_256-512@32",
        "enc4.b_3x3_512@32",
        "enc5.shortcut_1x1_512-1024@16",
        "enc5.a_3x3_512-1024@16",
        "enc5.b_3x3_1024@16",
        "sa_7x7_2-1@16",
        "mixer.dw_dw3x3_1024@16",
        "mixer.pw_1x1_1024@16",
        "dec4.up_up3x3_1024-512@16",
        "dec4.fuse_split3x3_1024-512@32",
        "dec3.up_up3x3_512-256@32",
        "dec3.mcsa.p_1x1_256@64",
        "dec3.mcsa.o_3x3_256@64",
        "dec3.mcsa.d_dil2_256@64",
        "dec3.mcsa.g_split1x1_512-256@64",
        "dec3.fuse_split3x3_512-256@64",
        "dec2.up_up3x3_256-128@64",
        "dec2.mcsa.p_1x1_128@128",
        "dec2.mcsa.o_3x3_128@128",
        "dec2.mcsa.d_dil2_128@128",
        "dec2.mcsa.g_split1x1_256-128@128",
        "dec2.fuse_split3x3_256-128@128",
        "dec1.up_up3x3_128-64@128",
        "dec1.mcsa.p_1x1_64@256",
        "dec1.mcsa.o_3x3_64@256",
        "dec1.mcsa.d_dil2_64@256",
        "dec1.mcsa.g_split1x1_128-64@256",
        "dec1.fuse_split3x3_128-64@256",
        "head_1x1_64-2@256"
    })
    public String layer;

    @Param({"inference", "training", "backwardData", "backwardWeights"})
    public String pass;

    @Param({"1"})
    public int batch;

    @Param({"2"})
    public int threads;

    @Param({"f32"})
    public String precision;

    private Backend backend;
    private Conv2dOp op;
    private Layer l;
    private Tensor x;
    private Tensor x2;
    private Tensor w;
    private Tensor b;
    private Tensor y;
    private Tensor dx;
    private Tensor dw;
    private Tensor db;
    private Tensor operand;
    private ConvEpilogue epilogue;
    private Tensor[] bn;

    @Setup(Level.Trial)
    public void setUp() {
        l = LAYERS.get(layer);
        if (l == null) {
            throw new IllegalArgumentException("unknown layer " + layer + "; known: " + LAYERS.keySet());
        }
        backend = Backends.cpu(threads);
        backend.setInferencePrecision(Precision.valueOf(precision.toUpperCase(java.util.Locale.ROOT)));
        Conv2dSpec s = l.spec();
        boolean inference = pass.equals("inference");
        op = l.kind() == Kind.UP ? backend.conv2dUpsampled(s) : backend.conv2d(s);
        SplittableRandom r = new SplittableRandom(3);
        int in = s.inChannels();
        if (l.kind() == Kind.SPLIT && inference) {
            x = tensor(r, Layout.NHWC, batch, l.size(), l.size(), in / 2);
            x2 = tensor(r, Layout.NHWC, batch, l.size(), l.size(), in / 2);
        } else {
            x = tensor(r, Layout.NHWC, batch, l.size(), l.size(), in);
        }
        w = tensor(r, Layout.OIHW, s.weightShape());
        b = s.bias() ? tensor(r, Layout.PLAIN, s.outChannels()) : null;
        int os = l.kind() == Kind.UP ? 2 * l.size() : l.size();
        y = tensor(r, Layout.NHWC, batch, s.outH(os), s.outW(os), s.outChannels());
        dx = backend.allocate(DType.F32, Layout.NHWC, x.shape());
        dw = backend.allocate(DType.F32, Layout.OIHW, s.weightShape());
        db = s.bias() ? backend.allocate(DType.F32, Layout.PLAIN, s.outChannels()) : null;
        bn = new Tensor[] {
            tensor(r, Layout.PLAIN, s.outChannels()),
            tensor(r, Layout.PLAIN, s.outChannels()),
            tensor(r, Layout.PLAIN, s.outChannels()),
            backend.allocate(DType.F32, Layout.PLAIN, s.outChannels())
        };
        backend.fill(bn[3], 1f);
        ConvEpilogue.BatchNorm norm = new ConvEpilogue.BatchNorm(bn[0], bn[1], bn[2], bn[3], 1e-5f);
        ConvEpilogue.Builder e = ConvEpilogue.builder();
        if (l.act() == Activation.GELU) {
            e.act(Activation.GELU).batchNorm(norm);
        } else if (!layer.startsWith("head") && !layer.contains("shortcut")) {
            e.batchNorm(norm).act(l.act());
        }
        if (l.extra() != Extra.NONE && l.extra() != Extra.SUM) {
            operand = tensor(r, Layout.NHWC, y.shape());
            if (l.extra() == Extra.MUL_ADD) {
                e.mul(operand).add(x);
            } else {
                e.add(operand);
            }
        } else if (l.extra() == Extra.SUM) {
            e.sum();
        }
        epilogue = e.build();
    }

    private Tensor tensor(SplittableRandom r, Layout layout, int... shape) {
        Tensor t = backend.allocate(DType.F32, layout, shape);
        t.copyFrom(ArUNetBenchmark.random(r, (int) t.numel()));
        return t;
    }

    @Benchmark
    public Tensor run() {
        switch (pass) {
            case "inference" -> backend.convForwardFused(op, x, x2, w, b, y, epilogue);
            case "training" -> op.forward(x, w, b, y, true);
            case "backwardData" -> op.backwardData(y, w, dx);
            case "backwardWeights" -> op.backwardWeights(x, y, dw, db);
            default -> throw new IllegalArgumentException("pass " + pass);
        }
        return y;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        op.close();
        for (Tensor t : new Tensor[] {x, x2, w, b, y, dx, dw, db, operand, bn[0], bn[1], bn[2], bn[3]}) {
            if (t != null) {
                t.close();
            }
        }
        backend.close();
    }

    /** Prints the layer table with multiply-accumulates per image (for GFLOP/s). */
    public static void main(String[] args) {
        for (Map.Entry<String, Layer> e : LAYERS.entrySet()) {
            System.out.printf(
                    java.util.Locale.ROOT,
                    "%-38s %-48s %8.3f GMAC%n",
                    e.getKey(),
                    e.getValue().spec(),
                    e.getValue().macs() / 1e9);
        }
    }
}
