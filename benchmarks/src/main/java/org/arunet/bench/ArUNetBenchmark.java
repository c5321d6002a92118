package org.arunet.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
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
 * The default ARU-Net (width 64, mixer kernel 3) on the CPU backend: inference forward pass at
 * {@code batch x 3 x size x size} and one training step (forward, CE + Dice loss, backward, Adam).
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar ArUNetBenchmark -p threads=2
 * </pre>
 * GFLOP/s = 2 x MACs / time; MACs at 256x256 are 74.49 G per image (a training step counts 3x the
 * forward FLOPs).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx4g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 5, time = 1)
public class ArUNetBenchmark {
    @Param({"256"})
    public int size;

    @Param({"2"})
    public int threads;

    @Param({"1"})
    public int inferenceBatch;

    @Param({"2"})
    public int trainBatch;

    private Backend backend;
    private ArUNet net;
    private Tensor x;
    private Tensor xt;
    private Tensor target;
    private Tensor dLogits;
    private Adam adam;

    @Setup(Level.Trial)
    public void setUp() {
        backend = Backends.cpu(threads);
        net = ArUNet.builder().backend(backend).build();
        x = backend.allocate(DType.F32, Layout.NHWC, inferenceBatch, size, size, 3);
        xt = backend.allocate(DType.F32, Layout.NHWC, trainBatch, size, size, 3);
        target = backend.allocate(DType.I32, Layout.PLAIN, trainBatch, size, size);
        dLogits = backend.allocate(DType.F32, Layout.NHWC, trainBatch, size, size, 2);
        SplittableRandom r = new SplittableRandom(1);
        x.copyFrom(random(r, (int) x.numel()));
        xt.copyFrom(random(r, (int) xt.numel()));
        int[] t = new int[(int) target.numel()];
        for (int i = 0; i < t.length; i++) {
            int y = i / size % size;
            int xx = i % size;
            t[i] = Math.hypot(y - size / 2.0, xx - size / 2.0) < size / 4.0 ? 1 : 0;
        }
        target.copyFrom(t);
        adam = Adam.of(backend, net.namedParameters(), 1e-4f);
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Benchmark
    public float forwardInference() {
        net.eval();
        Tensor logits = net.forward(x);
        return logits.numel();
    }

    @Benchmark
    public double trainStep() {
        net.train(true);
        Tensor logits = net.forward(xt);
        double loss = backend.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
        net.backward(dLogits);
        adam.step();
        return loss;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        adam.close();
        x.close();
        xt.close();
        target.close();
        dLogits.close();
        net.close();
        backend.close();
    }
}
