package org.arunet.backend.cuda;

import org.arunet.tensor.Tensor;

/**
 * Pooling on the GPU: the launch sequences of {@link CudaBackend}'s max pooling and global pooling over
 * the kernels of {@code cuda/pool.cu} (the GPU twin of {@code cpu/pool.h}): the argmax pass that routes
 * the max-pool gradient, the chunked partial sums of the global max and mean and the tie counts of their
 * gradient. Arguments are validated by the backend; every method runs inside its {@code run}.
 */
final class CudaPool {
    private final CudaContext ctx;
    private final Kernels k;

    CudaPool(CudaContext ctx) {
        this.ctx = ctx;
        this.k = ctx.kernels;
    }

    /** {@code out}: the output shape {@code [N, OH, OW, C]} the checks computed. */
    void maxPoolForward(Tensor x, Tensor y, int[] out, int kernel, int stride, int pad) {
        k.maxPoolForward(
                y.address(), x.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), out[1], out[2], kernel, stride, pad);
        ctx.wrote(y);
    }

    /** The first maximum of every window (argmax pass), then dy routed to it. */
    void maxPoolBackward(Tensor x, Tensor dy, Tensor dx, int[] out, int kernel, int stride, int pad) {
        long outCount = (long) out[0] * out[1] * out[2] * out[3];
        long arg = ctx.temp(4L * outCount, "max-pool argmax " + java.util.Arrays.toString(out));
        k.maxPoolArgmax(arg, x.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), out[1], out[2], kernel, stride, pad);
        k.maxPoolBackward(
                dx.address(),
                dy.address(),
                arg,
                x.dim(0),
                x.dim(1),
                x.dim(2),
                x.dim(3),
                out[1],
                out[2],
                kernel,
                stride,
                pad);
        ctx.free(arg);
        ctx.wrote(dx);
    }

    /** Max and mean over H and W per image and channel (either output may be null, not both). */
    void globalPoolForward(Tensor x, Tensor max, Tensor avg) {
        long n = x.dim(0);
        long hw = (long) x.dim(1) * x.dim(2);
        long c = x.dim(3);
        long partial = ctx.temp(Kernels.chunks(hw) * n * c * 16L, "global-pool partials");
        k.globalPoolPartial(partial, x.address(), n, hw, c);
        k.globalPoolFinal(CudaBackend.addr(max), CudaBackend.addr(avg), partial, n, c, hw);
        ctx.free(partial);
        ctx.wrote(max, avg);
    }

    /** dMax split evenly among the tied maxima (their counts first), plus dAvg / (H W). */
    void globalPoolBackward(Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx) {
        long n = x.dim(0);
        long hw = (long) x.dim(1) * x.dim(2);
        long c = x.dim(3);
        boolean withMax = dMax != null;
        long ties = 0;
        if (withMax) {
            ties = ctx.temp(Kernels.chunks(hw) * n * c * 8L, "global-pool tie counts");
            k.globalPoolTiesPartial(ties, x.address(), max.address(), n, hw, c);
        }
        long coef = ctx.temp(2L * n * c * 4, "global-pool coefficients");
        long gmax = coef;
        long gavg = coef + 4L * n * c;
        k.globalPoolCoef(gmax, gavg, ties, CudaBackend.addr(dMax), CudaBackend.addr(dAvg), n, c, hw);
        k.globalPoolBackward(dx.address(), x.address(), withMax ? max.address() : 0L, gmax, gavg, n, hw, c, withMax);
        if (ties != 0) {
            ctx.free(ties);
        }
        ctx.free(coef);
        ctx.wrote(dx);
    }
}
