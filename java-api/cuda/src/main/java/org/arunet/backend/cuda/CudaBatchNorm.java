package org.arunet.backend.cuda;

import org.arunet.tensor.Tensor;

/**
 * Batch normalisation on the GPU: the launch sequences of {@link CudaBackend#batchNormForward} and
 * {@link CudaBackend#batchNormBackward} over the kernels of {@code cuda/batchnorm.cu} (the GPU twin of
 * {@code cpu/batchnorm.h}). Per-channel sums are reduced in chunks and finalized without floating-point
 * atomics, so results are reproducible. Arguments are validated by the backend; every method runs inside
 * its {@code run} (which reports failures with the op and the shapes).
 */
final class CudaBatchNorm {
    private final CudaContext ctx;
    private final Kernels k;

    CudaBatchNorm(CudaContext ctx) {
        this.ctx = ctx;
        this.k = ctx.kernels;
    }

    /** Training: batch statistics, running-statistics update, normalisation (and ReLU). */
    void forwardTraining(
            Tensor x,
            Tensor gamma,
            Tensor beta,
            Tensor runningMean,
            Tensor runningVar,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor y,
            float momentum,
            float eps,
            boolean relu) {
        int ch = x.dim(3);
        long m = CudaBackend.pixels(x);
        long partial = ctx.temp(Kernels.chunks(m) * ch * 16L, "batch-norm partial sums");
        long coef = ctx.temp(3L * ch * 4, "batch-norm coefficients");
        k.bnStatsPartial(partial, x.address(), m, ch);
        k.bnTrainFinalize(
                saveMean.address(),
                saveInvStd.address(),
                runningMean.address(),
                runningVar.address(),
                coef,
                x.address(),
                gamma.address(),
                partial,
                m,
                ch,
                momentum,
                eps);
        k.bnApply(y.address(), x.address(), coef, beta.address(), m, ch, relu);
        ctx.free(partial);
        ctx.free(coef);
        ctx.wrote(y, saveMean, saveInvStd, runningMean, runningVar);
    }

    /** Inference: normalisation with the running statistics (and ReLU). */
    void forwardInference(
            Tensor x,
            Tensor gamma,
            Tensor beta,
            Tensor runningMean,
            Tensor runningVar,
            Tensor y,
            float eps,
            boolean relu) {
        int ch = x.dim(3);
        long m = CudaBackend.pixels(x);
        long coef = ctx.temp(3L * ch * 4, "batch-norm coefficients");
        k.bnEvalCoef(coef, gamma.address(), runningMean.address(), runningVar.address(), ch, eps);
        k.bnApply(y.address(), x.address(), coef, beta.address(), m, ch, relu);
        ctx.free(coef);
        ctx.wrote(y);
    }

    /** Backward of a training forward (batch statistics); with {@code relu}, y masks the gradient. */
    void backward(
            Tensor dy,
            Tensor x,
            Tensor y,
            Tensor gamma,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor dx,
            Tensor dGamma,
            Tensor dBeta,
            boolean relu) {
        int ch = x.dim(3);
        long m = CudaBackend.pixels(x);
        long yAddr = relu ? y.address() : 0L;
        long partial = ctx.temp(Kernels.chunks(m) * ch * 16L, "batch-norm partial sums");
        long coef = ctx.temp(3L * ch * 4, "batch-norm coefficients");
        k.bnBackwardPartial(partial, dy.address(), x.address(), yAddr, saveMean.address(), m, ch, relu);
        k.bnBackwardFinalize(
                dGamma.address(), dBeta.address(), coef, gamma.address(), saveInvStd.address(), partial, m, ch);
        k.bnBackwardApply(dx.address(), dy.address(), x.address(), yAddr, saveMean.address(), coef, m, ch, relu);
        ctx.free(partial);
        ctx.free(coef);
        ctx.wrote(dx, dGamma, dBeta);
    }
}
