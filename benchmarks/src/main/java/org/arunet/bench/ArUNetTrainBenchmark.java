package org.arunet.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.Precision;
import org.arunet.model.ArUNet;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;
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
 * One training step of the default ARU-Net on the CPU backend: forward (training mode), CE + Dice
 * loss, backward, Adam (lr 1e-4), at {@code shape} = {@code N x S}.
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar ArUNetTrainBenchmark -p threads=2 [-p precision=bf16]
 * </pre>
 * Effective GFLOP/s = 3 x 2 x MACs / time (74.49 GMAC per 256 x 256 image), the measure.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx4g", "-XX:+UseSerialGC"})
@Warmup(iterations = 2, time = 5)
@Measurement(iterations = 5, time = 5)
public class ArUNetTrainBenchmark {
    @Param({"2x256"})
    public String shape;

    @Param({"2"})
    public int threads;

    /** f32, or bf16 mixed precision (bf16 convolution operands, f32 accumulation and master weights). */
    @Param({"f32"})
    public String precision;

    private Backend backend;
    private ArUNet net;
    private Tensor x;
    private Tensor target;
    private Tensor dLogits;
    private Adam adam;

    @Setup(Level.Trial)
    public void setUp() {
        String[] ns = shape.split("x");
        int n = Integer.parseInt(ns[0]);
        int size = Integer.parseInt(ns[1]);
        backend = Backends.cpu(threads);
        backend.setTrainingPrecision(Precision.valueOf(precision.toUpperCase(java.util.Locale.ROOT)));
        net = ArUNet.builder().backend(backend).build();
        net.train(true);
        x = backend.allocate(DType.F32, Layout.NHWC, n, size, size, 3);
        target = backend.allocate(DType.I32, Layout.PLAIN, n, size, size);
        dLogits = backend.allocate(DType.F32, Layout.NHWC, n, size, size, 2);
        x.copyFrom(ArUNetBenchmark.random(new SplittableRandom(1), (int) x.numel()));
        int[] t = new int[(int) target.numel()];
        for (int i = 0; i < t.length; i++) {
            int y = i / size % size;
            int xx = i % size;
            t[i] = Math.hypot(y - size / 2.0, xx - size / 2.0) < size / 4.0 ? 1 : 0;
        }
        target.copyFrom(t);
        adam = Adam.of(backend, net.namedParameters(), 1e-4f);
    }

    @Benchmark
    public double trainStep() {
        Tensor logits = net.forward(x);
        double loss = backend.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
        net.backward(dLogits);
        adam.step();
        return loss;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        adam.close();
        x.close();
        target.close();
        dLogits.close();
        net.close();
        backend.close();
    }
}
