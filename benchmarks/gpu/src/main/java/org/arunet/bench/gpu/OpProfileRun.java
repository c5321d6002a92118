package org.arunet.bench.gpu;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import org.arunet.backend.Backend;
import org.arunet.backend.ProfilingBackend;
import org.arunet.backend.cuda.CudaBackend;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Adam;

/**
 * Where ARU-Net's time goes on the GPU, op by op: each configuration's passes run on a
 * {@link ProfilingBackend} that waits for the device after every op, so each op's time is its GPU time
 * plus one synchronization (about 10 microseconds; the table's "pass wall time" is therefore longer than
 * the throughput phase's). Prints one table per configuration: milliseconds and calls per pass, GFLOP/s
 * of each convolution shape, the totals. Modes: infer and fused (inference, unfused or fused path),
 * train (forward, CE + Dice, backward, Adam; no loss scaling: the times do not depend on it).
 */
final class OpProfileRun {
    private OpProfileRun() {}

    /** @return 0 when at least one configuration was profiled */
    static int run(
            Function<Throughput.Config, Backend> backends,
            List<Throughput.Config> configs,
            int size,
            int width,
            int passes,
            double deadlineSeconds,
            PrintStream out) {
        long start = System.nanoTime();
        int done = 0;
        for (Throughput.Config c : configs) {
            double elapsed = (System.nanoTime() - start) / 1e9;
            if (elapsed > deadlineSeconds) {
                out.printf(
                        Locale.ROOT,
                        "SKIP profile %s: time budget, %.0f s of %.0f used%n",
                        c,
                        elapsed,
                        deadlineSeconds);
                continue;
            }
            if (c.mode().endsWith("graph")) {
                out.println("SKIP profile " + c + ": a CUDA graph runs as one launch; profile its eager twin instead");
                continue;
            }
            try {
                profileOne(backends.apply(c), c, size, width, passes, out);
                done++;
            } catch (RuntimeException | OutOfMemoryError e) {
                out.println("FAIL profile " + c + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        return done > 0 ? 0 : 1;
    }

    private static void profileOne(
            Backend inner, Throughput.Config c, int size, int width, int passes, PrintStream out) {
        Runnable barrier = inner instanceof CudaBackend cuda ? cuda::synchronize : null;
        boolean train = c.mode().equals("train");
        int b = c.batch();
        try (ProfilingBackend be = new ProfilingBackend(inner, false, barrier);
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(width), Init.Scheme.AUTHORS, 0);
                Tensor x = be.allocate(DType.F32, Layout.NHWC, b, size, size, 3);
                Tensor target = be.allocate(DType.I32, Layout.PLAIN, b, size, size);
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, b, size, size, 2);
                Adam adam = Adam.of(be, net.namedParameters(), 1e-4f)) {
            be.enable(false);
            Throughput.fillInputs(x, target, b, size);
            net.train(train);
            net.setFusedInference(c.mode().equals("fused"));
            Runnable pass = train
                    ? () -> {
                        Tensor logits = net.forward(x);
                        be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
                        net.backward(dLogits);
                        adam.step();
                    }
                    : () -> net.forward(x);
            for (int i = 0; i < 2; i++) {
                pass.run();
            }
            if (barrier != null) {
                barrier.run();
            }
            be.reset();
            be.enable(true);
            double[] wall = new double[passes];
            for (int i = 0; i < passes; i++) {
                long t0 = be.now();
                pass.run();
                wall[i] = (be.now() - t0) / 1e6;
            }
            out.printf(
                    Locale.ROOT,
                    "PROFILE %s, %dx%dx%dx3, width %d, %d passes; ms per pass (each op waited for)%n",
                    c,
                    b,
                    size,
                    size,
                    width,
                    passes);
            out.print(be.table(passes, wall, net.macs(size, size) * b, train));
            out.println();
        }
    }
}
