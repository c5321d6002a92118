package org.arunet.backend.cuda;

import java.util.List;
import org.arunet.tensor.Tensor;

/**
 * Elementwise ops on the GPU that take more than one kernel: the broadcasting products of
 * {@link CudaBackend#mulForward} and {@link CudaBackend#mulBackward} (per element, per pixel, per image
 * and channel) and the sums of squares of {@link CudaBackend#sumOfSquares} and
 * {@link CudaBackend#scaleAndSumSquares}, over the kernels of {@code cuda/elementwise.cu} (the GPU twin
 * of {@code cpu/elementwise.h}). Reductions run in chunks with a final pass, never with floating-point
 * atomics. Arguments are validated by the backend; every method runs inside its {@code run}.
 */
final class CudaElementwise {
    private final CudaContext ctx;
    private final Kernels k;
    /** The segment offsets of scaleAndSumSquares on the device, and the offsets they were made from. */
    private long segmentTable;

    private long[] segmentKey = new long[0];

    CudaElementwise(CudaContext ctx) {
        this.ctx = ctx;
        this.k = ctx.kernels;
    }

    /** y = x * w broadcast by mode (also dx = dy * w). */
    private void mulBy(int mode, long y, long x, long w, Tensor shapeOf) {
        switch (mode) {
            case 0 -> k.mul(y, x, w, shapeOf.numel());
            case 1 -> k.mulPixel(y, x, w, CudaBackend.pixels(shapeOf), shapeOf.dim(3));
            default -> k.mulChannel(y, x, w, shapeOf.dim(0), (long) shapeOf.dim(1) * shapeOf.dim(2), shapeOf.dim(3));
        }
    }

    /** {@code mode}: the broadcast the checks found (0 same shape, 1 per pixel, 2 per image and channel). */
    void mulForward(int mode, Tensor x, Tensor w, Tensor y) {
        mulBy(mode, y.address(), x.address(), w.address(), x);
        ctx.wrote(y);
    }

    /** dx = dy * w (broadcast), dw = dy * x reduced to w's shape; either may be null. */
    void mulBackward(int mode, Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw) {
        if (dx != null) {
            mulBy(mode, dx.address(), dy.address(), w.address(), x);
        }
        if (dw != null) {
            switch (mode) {
                case 0 -> k.mul(dw.address(), dy.address(), x.address(), x.numel());
                case 1 -> k.rowDot(dw.address(), dy.address(), x.address(), CudaBackend.pixels(x), x.dim(3));
                default -> {
                    long n = x.dim(0);
                    long hw = (long) x.dim(1) * x.dim(2);
                    long c = x.dim(3);
                    long partial = ctx.temp(Kernels.chunks(hw) * n * c * 8L, "mulBackward partial sums");
                    k.colDotPartial(partial, dy.address(), x.address(), n, hw, c);
                    k.colSumFinal(dw.address(), partial, n * c, hw);
                    ctx.free(partial);
                }
            }
        }
        ctx.wrote(dx, dw);
    }

    /** The sum of squares of a non-empty F32 tensor (waits for the GPU). */
    double sumOfSquares(Tensor x) {
        long chunks = Kernels.sumChunks(x.numel());
        long partial = ctx.temp(8L * chunks, "sum-of-squares partials");
        long out = ctx.temp(8L, "sum of squares");
        k.sumSquaresPartial(partial, x.address(), 1f, false, x.numel());
        k.sumFinal(out, partial, chunks);
        double s = ctx.downloadDoubles(out, 1)[0];
        ctx.free(partial);
        ctx.free(out);
        return s;
    }

    /**
     * Every tensor (at least one) times {@code factor} in place unless it is 1, and the sum of squares of
     * each after scaling: one batch of kernels and a single synchronization for all of them.
     */
    double[] scaleAndSumSquares(List<Tensor> tensors, float factor) {
        int t = tensors.size();
        long[] offsets = new long[t + 1];
        for (int i = 0; i < t; i++) {
            long n = tensors.get(i).numel();
            offsets[i + 1] = offsets[i] + (n == 0 ? 0 : Kernels.sumChunks(n));
        }
        long partial = ctx.temp(8L * Math.max(1, offsets[t]), "sum-of-squares partials");
        long out = ctx.temp(8L * t, "sums of squares");
        long table = segmentTable(offsets);
        boolean scaling = factor != 1f;
        for (int i = 0; i < t; i++) {
            Tensor x = tensors.get(i);
            if (x.numel() > 0) {
                k.sumSquaresPartial(partial + 8L * offsets[i], x.address(), factor, scaling, x.numel());
            }
        }
        k.sumSegments(out, partial, table, t);
        double[] sums = ctx.downloadDoubles(out, t);
        ctx.free(partial);
        ctx.free(out);
        if (scaling) {
            ctx.wrote(tensors.toArray(new Tensor[0]));
        }
        return sums;
    }

    /** The segment offsets on the device, uploaded once per distinct table (a training loop reuses one). */
    private long segmentTable(long[] offsets) {
        if (segmentTable == 0 || !java.util.Arrays.equals(offsets, segmentKey)) {
            if (segmentTable != 0) {
                ctx.free(segmentTable);
            }
            segmentTable = ctx.temp(8L * offsets.length, "segment table");
            ctx.uploadTable(segmentTable, offsets);
            segmentKey = offsets.clone();
        }
        return segmentTable;
    }
}
