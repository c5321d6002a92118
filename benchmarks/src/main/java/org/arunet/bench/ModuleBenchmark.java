package org.arunet.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.nn.ActivationPool;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.MCSA;
import org.arunet.nn.MixerBlock;
import org.arunet.nn.Module;
import org.arunet.nn.Residual;
import org.arunet.nn.SpatialAttention;
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
 * ARU-Net's attention and residual modules at the sizes a 1 x 3 x 256 x 256 input gives them:
 * {@code inference} is the fused eval path ({@code infer} with an activation pool), {@code training}
 * a training-mode forward and its backward.
 * <ul>
 *   <li>{@code mcsa<C>@<S>}: MCSA at decoder levels 3, 2, 1;
 *   <li>{@code ca<2C>@<S>}: paper channel attention on the skip fusion's two halves (inference: on the
 *       halves, never concatenated; training: on the concatenation, the module alone);
 *   <li>{@code sa1024@16}: spatial attention on the bottleneck; {@code mixer1024@16}: one SpConvMixer
 *       block; {@code residual<Cin>-<C>@<S>}: the encoder stages' residual blocks.
 * </ul>
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar ModuleBenchmark -p threads=2
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx2g", "-XX:+UseSerialGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ModuleBenchmark {
    @Param({
        "mcsa256@64",
        "mcsa128@128",
        "mcsa64@256",
        "ca1024@32",
        "ca512@64",
        "ca256@128",
        "ca128@256",
        "sa1024@16",
        "mixer1024@16",
        "residual64-128@128",
        "residual128-256@64",
        "residual256-512@32",
        "residual512-1024@16"
    })
    public String module;

    @Param({"inference", "training"})
    public String pass;

    @Param({"2"})
    public int threads;

    private Backend backend;
    private Module m;
    private ActivationPool pool;
    private Tensor x;
    private Tensor x2;
    private Tensor dy;

    @Setup(Level.Trial)
    public void setUp() {
        backend = Backends.cpu(threads);
        pool = new ActivationPool(backend);
        String kind = module.replaceAll("[0-9@-].*", "");
        String[] cs = module.substring(kind.length()).split("@");
        int size = Integer.parseInt(cs[1]);
        String[] ch = cs[0].split("-");
        int cin = Integer.parseInt(ch[0]);
        int c = Integer.parseInt(ch[ch.length - 1]);
        SplittableRandom r = new SplittableRandom(5);
        int xc = cin;
        switch (kind) {
            case "mcsa" -> m = new MCSA(backend, c);
            case "ca" -> {
                m = new ChannelAttention(backend, c, 16, ChannelAttention.Kind.PAPER);
                if (pass.equals("inference")) {
                    xc = c / 2;
                    x2 = tensor(r, 1, size, size, c / 2);
                }
            }
            case "sa" -> m = new SpatialAttention(backend, 7);
            case "mixer" -> m = new MixerBlock(backend, c, 3);
            case "residual" -> m = new Residual(backend, cin, c, true);
            default -> throw new IllegalArgumentException("module " + module);
        }
        x = tensor(r, 1, size, size, xc);
        dy = tensor(
                r,
                1,
                size,
                size,
                kind.equals("ca") || kind.equals("sa") || kind.equals("mcsa") || kind.equals("mixer") ? cin : c);
        m.train(pass.equals("training"));
    }

    private Tensor tensor(SplittableRandom r, int... shape) {
        Tensor t = backend.allocate(DType.F32, Layout.NHWC, shape);
        t.copyFrom(ArUNetBenchmark.random(r, (int) t.numel()));
        return t;
    }

    @Benchmark
    public Object run() {
        if (pass.equals("inference")) {
            Tensor out;
            if (m instanceof ChannelAttention ca) {
                Tensor[] o = ca.inferSplit(x, x2, pool);
                pool.release(o[1]);
                out = o[0];
            } else if (m instanceof MCSA a) {
                out = a.infer(x, pool);
            } else if (m instanceof SpatialAttention a) {
                out = a.infer(x, pool);
            } else if (m instanceof MixerBlock a) {
                out = a.infer(x, pool);
            } else {
                out = ((Residual) m).infer(x, pool);
            }
            pool.release(out);
            return out;
        }
        if (m instanceof ChannelAttention ca) {
            ca.forward(x);
            return ca.backward(dy);
        } else if (m instanceof MCSA a) {
            a.forward(x);
            return a.backward(dy);
        } else if (m instanceof SpatialAttention a) {
            a.forward(x);
            return a.backward(dy);
        } else if (m instanceof MixerBlock a) {
            a.forward(x);
            return a.backward(dy);
        }
        Residual res = (Residual) m;
        res.forward(x);
        return res.backward(dy);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        m.close();
        pool.close();
        for (Tensor t : new Tensor[] {x, x2, dy}) {
            if (t != null) {
                t.close();
            }
        }
        backend.close();
    }
}
