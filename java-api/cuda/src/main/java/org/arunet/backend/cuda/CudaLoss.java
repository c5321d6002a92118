package org.arunet.backend.cuda;

import java.util.function.Function;
import org.arunet.tensor.Tensor;

/**
 * The losses on the GPU: the device passes {@link CudaBackend#crossEntropyDiceLoss} and
 * {@link CudaBackend#focalTverskyLoss} share (the kernels of {@code cuda/loss.cu}: softmax and
 * cross-entropy per pixel, per-class sums), the host's loss and gradient coefficients ({@link LossMath})
 * and the gradient pass: the GPU twin of {@code cpu/loss.h}. Arguments are validated by the backend;
 * {@link #passes} runs inside its {@code call}.
 */
final class CudaLoss {
    private final CudaContext ctx;
    private final Kernels k;

    CudaLoss(CudaContext ctx) {
        this.ctx = ctx;
        this.k = ctx.kernels;
    }

    /**
     * Softmax and CE per pixel, class sums, then on the host the loss and gradient coefficients, then
     * (with dLogits) the gradient pass. Returns the loss; when a target lies outside [0, K), returns NaN
     * and stores the first such flat index in {@code badIndex[0]} (dLogits then holds intermediate values).
     */
    double passes(
            Tensor logits,
            Tensor target,
            Tensor dLogits,
            Function<double[], LossMath.Coefficients> host,
            long[] badIndex) {
        int kk = logits.dim(3);
        long p = CudaBackend.pixels(logits);
        long probs = dLogits != null ? dLogits.address() : ctx.temp(4L * p * kk, "softmax probabilities");
        long ce = ctx.temp(8L * p, "per-pixel cross-entropy");
        long sums = ctx.temp(8L * (2 + 3L * kk), "loss sums");
        long partial = ctx.temp(Kernels.chunks(p) * kk * 32L, "loss partial sums");
        long bad = sums + 8L * (1 + 3L * kk);
        ctx.memset(bad, 0xff, 8);
        k.softmaxCe(probs, ce, bad, logits.address(), target.address(), p, kk);
        k.lossPartial(partial, probs, target.address(), ce, p, kk);
        k.lossFinal(sums, partial, p, kk);
        double[] all = ctx.downloadDoubles(sums, 2 + 3 * kk);
        long firstBad = Double.doubleToRawLongBits(all[1 + 3 * kk]);
        double result = Double.NaN;
        if (firstBad != -1L) {
            badIndex[0] = firstBad;
        } else {
            LossMath.Coefficients c = host.apply(all);
            result = c.loss();
            if (dLogits != null) {
                long coef = ctx.temp(16L * kk, "loss gradient coefficients");
                double[] both = new double[2 * kk];
                System.arraycopy(c.c0(), 0, both, 0, kk);
                System.arraycopy(c.c1(), 0, both, kk, kk);
                ctx.uploadDoubles(coef, both);
                k.lossGrad(dLogits.address(), target.address(), coef, coef + 8L * kk, p, kk, c.ceScale());
                ctx.free(coef);
            }
        }
        if (dLogits == null) {
            ctx.free(probs);
        }
        ctx.free(ce);
        ctx.free(sums);
        ctx.free(partial);
        ctx.wrote(dLogits);
        return result;
    }

    /** The error for a target value outside [0, K) at {@code index}, naming the value read back. */
    static IllegalArgumentException targetOutOfRange(String op, Tensor logits, Tensor target, long index) {
        int kk = logits.dim(3);
        int[] v = new int[1];
        target.memory().read(target.address() - target.memory().address() + 4L * index, v, 0, 1);
        return new IllegalArgumentException(op + ": target value " + v[0] + " at flat index " + index
                + " is outside [0, " + kk + ") (target " + target.describe() + ", logits " + logits.describe() + ")");
    }
}
