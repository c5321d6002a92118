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
 * The default ARU-Net (width 64, mixer kernel 3) on the CPU backend, inference forward pass at
 * {@code shape} = {@code N x S} (N images of 3 x S x S): the fused inference path in fp32 or bf16,
 * and the unfused modules for comparison ({@code path=unfused}: what eval mode ran before the fused
 * path, one op per layer).
 *
 * <pre>
 *   java -jar benchmarks/target/benchmarks.jar ArUNetBenchmark -p threads=2
 *   java -jar benchmarks/target/benchmarks.jar ArUNetBenchmark -p shape=1x512 -p precision=bf16
 * </pre>
 * GFLOP/s = 2 x MACs / time; MACs are 74.49 G per 256 x 256 image and 297.96 G per 512 x 512 image
 * (the model's nominal count: the upsampling convolutions count as 3x3 on the upsampled input,
 * though the CPU backend computes them with 4/9 of that). The training step is
 * {@link ArUNetTrainBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
        value = 1,
        jvmArgsAppend = {"-Xmx4g", "-XX:+UseSerialGC"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 2)
public class ArUNetBenchmark {
    @Param({"1x256", "1x512", "2x256"})
    public String shape;

    @Param({"2"})
    public int threads;

    @Param({"f32"})
    public String precision;

    @Param({"fused"})
    public String path;

    private Backend backend;
    private ArUNet net;
    private Tensor x;

    @Setup(Level.Trial)
    public void setUp() {
        String[] ns = shape.split("x");
        int n = Integer.parseInt(ns[0]);
        int size = Integer.parseInt(ns[1]);
        backend = Backends.cpu(threads);
        backend.setInferencePrecision(Precision.valueOf(precision.toUpperCase(java.util.Locale.ROOT)));
        net = ArUNet.builder().backend(backend).build();
        net.eval();
        net.setFusedInference(path.equals("fused"));
        x = backend.allocate(DType.F32, Layout.NHWC, n, size, size, 3);
        x.copyFrom(random(new SplittableRandom(1), (int) x.numel()));
    }

    static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    @Benchmark
    public float forwardInference() {
        Tensor logits = net.forward(x);
        return logits.numel();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        x.close();
        net.close();
        backend.close();
    }
}
