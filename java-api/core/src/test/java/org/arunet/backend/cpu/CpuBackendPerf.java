package org.arunet.backend.cpu;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Performance sanity harness for the CPU backend (not a test: it asserts nothing). Run from the
 * worktree root after {@code mvn -o -pl native,java-api/core test-compile}:
 *
 * <pre>
 *   CP=native/target/classes:java-api/core/target/classes:java-api/core/target/test-classes:$(cat /tmp/cp.txt)
 *   java -cp $CP org.arunet.backend.cpu.CpuBackendPerf [impl|conv|memory|all] [threads]
 *   java -Dperf.cpuTime=true -cp $CP org.arunet.backend.cpu.CpuBackendPerf memory 1
 * </pre>
 *
 * ({@code /tmp/cp.txt} from {@code mvn -o -q -pl java-api/core dependency:build-classpath
 * -Dmdep.outputFile=/tmp/cp.txt}). {@code impl} lists oneDNN's implementation of every pass of
 * ARU-Net's convolutions (512x512 input, batch 2); {@code conv} times a 64->64 3x3 convolution on
 * 1x128x128 NHWC; {@code memory} times the bandwidth-bound kernels at ARU-Net sizes.
 */
public final class CpuBackendPerf {
    private CpuBackendPerf() {}

    public static void main(String[] args) {
        String what = args.length > 0 ? args[0] : "all";
        int threads = args.length > 1
                ? Integer.parseInt(args[1])
                : Runtime.getRuntime().availableProcessors();
        try (CpuBackend be = new CpuBackend(threads)) {
            System.out.println("CpuBackend threads=" + be.threads() + " (OpenMP region: " + be.regionThreads() + ")");
            if (what.equals("impl") || what.equals("all")) {
                implementations(be);
            }
            if (what.equals("conv") || what.equals("all")) {
                conv(be);
            }
            if (what.equals("memory") || what.equals("all")) {
                memory(be);
            }
        }
    }

    /** One ARU-Net convolution: spec and input side (N = 2). */
    record Layer(String name, Conv2dSpec spec, int size) {}

    static List<Layer> aruNetLayers() {
        List<Layer> l = new ArrayList<>();
        l.add(new Layer("stem.a 3->64", Conv2dSpec.same(3, 64, 3, 1, 1, false), 512));
        l.add(new Layer("stem.b 64->64", Conv2dSpec.same(64, 64, 3, 1, 1, false), 512));
        int[] c = {64, 128, 256, 512, 1024};
        for (int i = 1; i < 5; i++) {
            int s = 512 >> i;
            l.add(new Layer(
                    "enc" + (i + 1) + ".a " + c[i - 1] + "->" + c[i],
                    Conv2dSpec.same(c[i - 1], c[i], 3, 1, 1, false),
                    s));
            l.add(new Layer(
                    "enc" + (i + 1) + ".b " + c[i] + "->" + c[i], Conv2dSpec.same(c[i], c[i], 3, 1, 1, false), s));
            l.add(new Layer("enc" + (i + 1) + ".shortcut 1x1", Conv2dSpec.same(c[i - 1], c[i], 1, 1, 1, false), s));
        }
        l.add(new Layer("sa 7x7 2->1", Conv2dSpec.same(2, 1, 7, 1, 1, false), 32));
        l.add(new Layer("mixer dw3x3 1024", Conv2dSpec.same(1024, 1024, 3, 1, 1024, true), 32));
        l.add(new Layer("mixer dw7x7 1024", Conv2dSpec.same(1024, 1024, 7, 1, 1024, true), 32));
        l.add(new Layer("mixer pw 1x1 1024", Conv2dSpec.same(1024, 1024, 1, 1, 1, true), 32));
        for (int i = 4; i >= 1; i--) {
            int s = 512 >> (i - 1);
            int cin = c[i];
            int cout = c[i - 1];
            l.add(new Layer("dec" + i + ".up " + cin + "->" + cout, Conv2dSpec.same(cin, cout, 3, 1, 1, true), s));
            if (i < 4) {
                l.add(new Layer("dec" + i + ".mcsa.p 1x1", Conv2dSpec.same(cout, cout, 1, 1, 1, true), s));
                l.add(new Layer("dec" + i + ".mcsa.o 3x3", Conv2dSpec.same(cout, cout, 3, 1, 1, true), s));
                l.add(new Layer("dec" + i + ".mcsa.d 3x3 dil2", Conv2dSpec.same(cout, cout, 3, 2, 1, true), s));
                l.add(new Layer("dec" + i + ".mcsa.g 1x1", Conv2dSpec.same(2 * cout, cout, 1, 1, 1, true), s));
            }
            l.add(new Layer(
                    "dec" + i + ".fuse " + 2 * cout + "->" + cout, Conv2dSpec.same(2 * cout, cout, 3, 1, 1, true), s));
        }
        l.add(new Layer("head 1x1 64->2", Conv2dSpec.same(64, 2, 1, 1, 1, true), 512));
        return l;
    }

    static void implementations(CpuBackend be) {
        System.out.println("\noneDNN implementations, batch 2, 512x512 input:");
        System.out.printf(
                "%-24s %-5s %-28s %-28s %-28s %-28s%n",
                "layer", "in", "fwd inference", "fwd training", "bwd data", "bwd weights");
        for (Layer layer : aruNetLayers()) {
            try (Conv2dOp op = be.conv2d(layer.spec())) {
                CpuConv2dOp conv = (CpuConv2dOp) op;
                String[] impl = new String[4];
                for (CpuConv2dOp.Pass p : CpuConv2dOp.Pass.values()) {
                    impl[p.ordinal()] = conv.implementation(p, 2, layer.size(), layer.size());
                }
                System.out.printf(
                        "%-24s %-5d %-28s %-28s %-28s %-28s%n",
                        layer.name(), layer.size(), impl[0], impl[1], impl[2], impl[3]);
            }
        }
    }

    /**
     * Median of {@code reps} timings of {@code body}, in seconds, after {@code warm} warm-up runs. With
     * {@code -Dperf.cpuTime=true} it measures the calling thread's CPU time instead of wall time: with
     * one thread all the work runs on the calling thread, so this discounts time slices lost to other
     * processes on a shared machine.
     */
    static double time(int warm, int reps, Runnable body) {
        for (int i = 0; i < warm; i++) {
            body.run();
        }
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        boolean cpu = Boolean.getBoolean("perf.cpuTime");
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = cpu ? mx.getCurrentThreadCpuTime() : System.nanoTime();
            body.run();
            t[i] = ((cpu ? mx.getCurrentThreadCpuTime() : System.nanoTime()) - t0) * 1e-9;
        }
        Arrays.sort(t);
        return t[reps / 2];
    }

    static Tensor random(Random rnd, Layout layout, int... shape) {
        Tensor t = Tensor.host(DType.F32, layout, shape);
        float[] a = new float[(int) t.numel()];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        t.copyFrom(a);
        return t;
    }

    static void conv(CpuBackend be) {
        Random rnd = new Random(1);
        Conv2dSpec spec = Conv2dSpec.same(64, 64, 3, 1, 1, false);
        int n = 1;
        int s = 128;
        double flop = 2.0 * spec.macs(s, s) * n;
        System.out.printf("%nconv 64->64 3x3, input %dx%dx%dx64 NHWC (%.2f GFLOP per pass)%n", n, s, s, flop / 1e9);
        try (Conv2dOp conv = be.conv2d(spec);
                Tensor x = random(rnd, Layout.NHWC, n, s, s, 64);
                Tensor w = random(rnd, Layout.OIHW, 64, 64, 3, 3);
                Tensor y = Tensor.host(DType.F32, Layout.NHWC, n, s, s, 64);
                Tensor dx = Tensor.host(DType.F32, Layout.NHWC, n, s, s, 64);
                Tensor dw = Tensor.host(DType.F32, Layout.OIHW, 64, 64, 3, 3)) {
            int[] counts = be.threads() == 1 ? new int[] {1} : new int[] {1, be.threads()};
            for (int threads : counts) {
                be.setThreads(threads);
                double fi = time(3, 15, () -> conv.forward(x, w, null, y, false));
                double ft = time(3, 15, () -> conv.forward(x, w, null, y, true));
                double bd = time(3, 15, () -> conv.backwardData(y, w, dx));
                double bw = time(3, 15, () -> conv.backwardWeights(x, y, dw, null));
                System.out.printf(
                        "  %d thread(s): fwd inference %.3f ms (%.0f GFLOP/s, %.0f per thread), fwd training"
                                + " %.3f ms (%.0f GFLOP/s), bwd data %.3f ms (%.0f GFLOP/s), bwd weights %.3f ms (%.0f GFLOP/s)%n",
                        threads,
                        fi * 1e3,
                        flop / fi / 1e9,
                        flop / fi / 1e9 / threads,
                        ft * 1e3,
                        flop / ft / 1e9,
                        bd * 1e3,
                        flop / bd / 1e9,
                        bw * 1e3,
                        flop / bw / 1e9);
            }
            be.setThreads(Math.max(1, be.threads()));
        }
    }

    static void memory(CpuBackend be) {
        Random rnd = new Random(2);
        // decoder level 1 at 512x512, batch 2: 64 channels (134 MB per tensor)
        int n = 2;
        int s = 512;
        int c = 64;
        System.out.printf(
                "%nbandwidth-bound kernels at [%d, %d, %d, %d] (%.0f MB per tensor), %d thread(s)%n",
                n, s, s, c, 4.0 * n * s * s * c / 1e6, be.threads());
        try (Tensor x = random(rnd, Layout.NHWC, n, s, s, c);
                Tensor y = Tensor.host(DType.F32, Layout.NHWC, n, s, s, c);
                Tensor dy = random(rnd, Layout.NHWC, n, s, s, c);
                Tensor dx = Tensor.host(DType.F32, Layout.NHWC, n, s, s, c);
                Tensor gamma = random(rnd, Layout.PLAIN, c);
                Tensor beta = random(rnd, Layout.PLAIN, c);
                Tensor rm = Tensor.host(DType.F32, Layout.PLAIN, c);
                Tensor rv = Tensor.host(DType.F32, Layout.PLAIN, c);
                Tensor sm = Tensor.host(DType.F32, Layout.PLAIN, c);
                Tensor si = Tensor.host(DType.F32, Layout.PLAIN, c);
                Tensor dg = Tensor.host(DType.F32, Layout.PLAIN, c);
                Tensor db = Tensor.host(DType.F32, Layout.PLAIN, c);
                Tensor half = random(rnd, Layout.NHWC, n, s / 2, s / 2, c);
                Tensor halfGrad = Tensor.host(DType.F32, Layout.NHWC, n, s / 2, s / 2, c)) {
            double mb = 4.0 * x.numel() / 1e6;
            report(
                    "batchNormForward train+ReLU",
                    3 * mb,
                    time(
                            2,
                            7,
                            () -> be.batchNormForward(
                                    x, gamma, beta, rm, rv, sm, si, y, true, 0.1f, 1e-5f, Activation.RELU)));
            report(
                    "batchNormForward eval",
                    2 * mb,
                    time(
                            2,
                            7,
                            () -> be.batchNormForward(
                                    x, gamma, beta, rm, rv, null, null, y, false, 0.1f, 1e-5f, Activation.NONE)));
            report(
                    "batchNormBackward (ReLU)",
                    6 * mb,
                    time(2, 7, () -> be.batchNormBackward(dy, x, y, gamma, sm, si, dx, dg, db, Activation.RELU)));
            report("relu forward", 2 * mb, time(2, 7, () -> be.activationForward(Activation.RELU, x, y)));
            report("relu backward", 3 * mb, time(2, 7, () -> be.activationBackward(Activation.RELU, x, null, dy, dx)));
            report("gelu forward", 2 * mb, time(2, 7, () -> be.activationForward(Activation.GELU, x, y)));
            report("sigmoid forward", 2 * mb, time(2, 7, () -> be.activationForward(Activation.SIGMOID, x, y)));
            report("upsample2x forward", 1.25 * mb, time(2, 7, () -> be.upsample2xForward(half, y)));
            report("upsample2x backward", 1.25 * mb, time(2, 7, () -> be.upsample2xBackward(dy, halfGrad)));
            report("add", 3 * mb, time(2, 7, () -> be.add(x, dy, y)));
            report("copy", 2 * mb, time(2, 7, () -> be.copy(x, y)));
            report("maxPoolForward 3/2/1", 1.25 * mb, time(2, 7, () -> be.maxPoolForward(x, half, 3, 2, 1)));
            report("maxPoolBackward 3/2/1", 2.25 * mb, time(2, 7, () -> be.maxPoolBackward(x, half, dx, 3, 2, 1)));
            report("sumOfSquares", mb, time(2, 7, () -> be.sumOfSquares(x)));
        }
    }

    private static void report(String what, double megabytes, double seconds) {
        System.out.printf("  %-30s %8.2f ms  %6.1f GB/s%n", what, seconds * 1e3, megabytes / 1e3 / seconds);
    }
}
