package org.arunet.bench;

import java.util.Locale;
import java.util.SplittableRandom;
import org.arunet.backend.Backends;
import org.arunet.backend.ProfilingBackend;
import org.arunet.model.ArUNet;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;

/**
 * Where the default ARU-Net spends its time, op by op: runs the model on a {@link ProfilingBackend}
 * over the CPU backend and prints, per op (convolutions per spec and input size), milliseconds per
 * pass, call counts and, for convolutions, GFLOP/s; then the totals of convolutions and of everything
 * else against the wall time of the passes.
 *
 * <pre>
 *   java -cp benchmarks/target/benchmarks.jar org.arunet.bench.OpProfile [forward|train] [size] [batch]
 *        [threads] [iterations]
 * </pre>
 * Defaults: forward 256 1 2 5. Timings are wall clock (run it on a quiet machine, and repeat), or
 * with {@code -Dprofile.cpu=true} the calling thread's CPU time (meaningful with 1 thread, where it
 * is the work itself whatever the load). {@code -Dprofile.unfused=true} runs the unfused eval
 * forward, {@code -Dprofile.bf16=true} bf16 convolutions (inference, and training's mixed precision).
 */
public final class OpProfile {
    private OpProfile() {}

    public static void main(String[] args) {
        String mode = args.length > 0 ? args[0] : "forward";
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        int iterations = args.length > 4 ? Integer.parseInt(args[4]) : 5;
        boolean train = mode.equals("train");
        boolean cpuTime = Boolean.getBoolean("profile.cpu");
        boolean unfused = Boolean.getBoolean("profile.unfused");
        ProfilingBackend be = new ProfilingBackend(Backends.cpu(threads), cpuTime);
        be.enable(false); // construction is not counted
        if (Boolean.getBoolean("profile.bf16")) {
            be.setInferencePrecision(org.arunet.backend.Precision.BF16);
            be.setTrainingPrecision(org.arunet.backend.Precision.BF16);
        }
        try (ArUNet net = ArUNet.builder().backend(be).build();
                Tensor x = be.allocate(DType.F32, Layout.NHWC, batch, size, size, 3);
                Tensor target = be.allocate(DType.I32, Layout.PLAIN, batch, size, size);
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, batch, size, size, 2);
                Adam adam = Adam.of(be, net.namedParameters(), 1e-4f)) {
            SplittableRandom r = new SplittableRandom(1);
            float[] v = new float[(int) x.numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextGaussian();
            }
            x.copyFrom(v);
            int[] t = new int[(int) target.numel()];
            for (int i = 0; i < t.length; i++) {
                t[i] = r.nextInt(4) == 0 ? 1 : 0;
            }
            target.copyFrom(t);
            net.train(train);
            net.setFusedInference(!unfused);
            Runnable pass = train
                    ? () -> {
                        Tensor logits = net.forward(x);
                        be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
                        net.backward(dLogits);
                        adam.step();
                    }
                    : () -> net.forward(x);
            be.enable(false);
            for (int i = 0; i < 2; i++) {
                pass.run();
            }
            be.enable(true);
            double[] wall = new double[iterations];
            for (int i = 0; i < iterations; i++) {
                long t0 = be.now();
                pass.run();
                wall[i] = (be.now() - t0) / 1e6;
            }
            report(be, mode, size, batch, threads, iterations, wall, net.macs(size, size) * batch);
        } finally {
            be.close();
        }
    }

    private static void report(
            ProfilingBackend be,
            String mode,
            int size,
            int batch,
            int threads,
            int iterations,
            double[] wall,
            long macs) {
        System.out.printf(
                Locale.ROOT,
                "%s %dx3x%dx%d, %d threads, %d passes; ms per pass%n",
                mode,
                batch,
                size,
                size,
                threads,
                iterations);
        System.out.print(be.table(iterations, wall, macs, mode.equals("train")));
    }
}
