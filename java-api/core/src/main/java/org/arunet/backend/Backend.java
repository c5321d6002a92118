package org.arunet.backend;

import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Every operation ARU-Net needs, forward and backward, on one device.
 *
 * <h2>Conventions (all implementations)</h2>
 * <ul>
 *   <li>Activations are F32 {@link Layout#NHWC} {@code [N, H, W, C]}; convolution weights
 *       {@link Layout#OIHW}; linear weights {@code [out, in]} (PyTorch's orders); vectors {@code [C]}.
 *   <li>Every output argument is <b>overwritten</b>; nothing accumulates. Gradients that meet at a
 *       join are summed by the caller with {@link #addInPlace}. (One exception:
 *       {@link #batchNormForward} updates the running statistics it is given.)
 *   <li>Outputs never alias inputs unless the method says so.
 *   <li>Shapes, dtypes and devices are validated before any native call; a mismatch throws
 *       {@link IllegalArgumentException} naming the operation and the shapes. Failures inside native
 *       code become {@link ArunetException}.
 *   <li>Numerics follow PyTorch (CPU, float32): BatchNorm normalises with the biased batch variance and
 *       updates {@code running_var} with the unbiased one; {@code MaxPool2d} routes the gradient to the
 *       first maximum of each window in row-major window order (padding never wins); the global and
 *       channel max reductions ({@code amax}) split the gradient evenly among tied maxima.
 *   <li>A backend is used by one thread at a time unless the implementation says otherwise.
 * </ul>
 */
public interface Backend extends AutoCloseable {

    /** Short name: "cpu", "reference", "cuda". */
    String name();

    /** Where tensors allocated by this backend live. */
    Device device();

    /** Allocates a zeroed tensor on this backend's device. */
    Tensor allocate(DType dtype, Layout layout, int... shape);

    /** Sets the number of worker threads for compute ops (CPU backends); ignored where meaningless. */
    default void setThreads(int threads) {}

    // ------------------------------------------------------------------ basics

    /** {@code dst = src} (same shape and dtype). */
    void copy(Tensor src, Tensor dst);

    /** Sets every element of an F32 tensor to {@code value}. */
    void fill(Tensor t, float value);

    /** {@code y = a + b}, same shapes. {@code y} may alias {@code a} or {@code b}. */
    void add(Tensor a, Tensor b, Tensor y);

    /** {@code y += x}, same number of elements. */
    void addInPlace(Tensor y, Tensor x);

    /** {@code y = alpha * x}. {@code y} may alias {@code x}. */
    void scale(Tensor x, float alpha, Tensor y);

    // ------------------------------------------------------------------ convolution

    /** A convolution handle for one layer; see {@link Conv2dOp}. */
    Conv2dOp conv2d(Conv2dSpec spec);

    /**
     * A convolution of the nearest-neighbour 2x upsampled input, {@code y = conv(upsample2x(x))}: x is
     * {@code [N, H, W, in]}, y {@code [N, 2H, 2W, out]} (the spec's output size for a {@code 2H x 2W}
     * input); backwardData returns the gradient of the low-resolution x, backwardWeights takes x.
     * The default composes {@link #upsample2xForward}, {@link #conv2d} and {@link #upsample2xBackward}
     * with its own temporary tensors; backends may compute it directly (the CPU backend does, for
     * 3x3 stride-1 padding-1 specs, without the upsampled tensor and with 4/9 of the arithmetic).
     */
    default Conv2dOp conv2dUpsampled(Conv2dSpec spec) {
        if (spec == null) {
            throw new IllegalArgumentException("conv2dUpsampled: spec is null");
        }
        return new UpsampledConv2dOp(this, spec);
    }

    /**
     * Inference forward of a convolution with its epilogue, {@code y = epilogue(conv(in, w) + b)} where
     * {@code in = x}, or {@code in = cat[x, x2]} over channels when x2 is given (the concatenation need
     * not exist: backends may split the weights). {@code op} is a handle of this backend (from
     * {@link #conv2d} or {@link #conv2dUpsampled}); {@code w}, {@code b} as {@link Conv2dOp#forward}.
     * y must not share memory with x, x2, w, b or the epilogue's tensors; the epilogue's SUM step
     * reads y's previous contents.
     *
     * <p>The default composes {@link Conv2dOp#forward} (inference), {@link #concatChannels} and the
     * elementwise ops of each step with temporary tensors it allocates and frees per call (correct,
     * not fast); backends fuse. Convolutions run at the {@link #setInferencePrecision inference
     * precision}.
     */
    default void convForwardFused(
            Conv2dOp op, Tensor x, Tensor x2, Tensor w, Tensor b, Tensor y, ConvEpilogue epilogue) {
        Checks.present("convForwardFused", "x", x, device());
        Checks.present("convForwardFused", "y", y, device());
        if (op == null || epilogue == null) {
            throw new IllegalArgumentException("convForwardFused: op and epilogue are required");
        }
        Tensor cat = null;
        Tensor t = null;
        Tensor u = null;
        try {
            Tensor in = x;
            if (x2 != null) {
                Checks.present("convForwardFused", "x2", x2, device());
                if (x.rank() != 4 || x2.rank() != 4) {
                    throw new IllegalArgumentException(
                            "convForwardFused: x and x2 must be NHWC, got " + x.describe() + " and " + x2.describe());
                }
                cat = allocate(DType.F32, Layout.NHWC, x.dim(0), x.dim(1), x.dim(2), x.dim(3) + x2.dim(3));
                concatChannels(x, x2, cat);
                in = cat;
            }
            t = allocate(DType.F32, y.layout(), y.shape());
            op.forward(in, w, b, t, false);
            for (ConvEpilogue.Step s : epilogue.steps()) {
                switch (s.kind()) {
                    case BATCH_NORM -> {
                        if (u == null) {
                            u = allocate(DType.F32, y.layout(), y.shape());
                        }
                        ConvEpilogue.BatchNorm bn = s.bn();
                        batchNormForward(
                                t,
                                bn.gamma(),
                                bn.beta(),
                                bn.mean(),
                                bn.var(),
                                null,
                                null,
                                u,
                                false,
                                0.1f,
                                bn.eps(),
                                Activation.NONE);
                        Tensor swap = t;
                        t = u;
                        u = swap;
                    }
                    case ACTIVATION -> activationForward(s.act(), t, t);
                    case SUM -> add(t, y, t);
                    case MUL -> mulForward(t, s.tensor(), t);
                    case ADD -> add(t, s.tensor(), t);
                }
            }
            copy(t, y);
        } finally {
            for (Tensor tmp : new Tensor[] {cat, t, u}) {
                if (tmp != null) {
                    tmp.close();
                }
            }
        }
    }

    /**
     * Sets the arithmetic of {@link #convForwardFused} ({@link Precision#F32} by default). Backends
     * without bf16 support refuse {@link Precision#BF16} with {@link IllegalArgumentException}.
     */
    default void setInferencePrecision(Precision precision) {
        if (precision != Precision.F32) {
            throw new IllegalArgumentException("backend " + name() + " supports only F32 inference, not "
                    + (precision == null ? null : precision.name()));
        }
    }

    /** The precision set by {@link #setInferencePrecision}. */
    default Precision inferencePrecision() {
        return Precision.F32;
    }

    /**
     * Sets the arithmetic of the convolutions' {@link Conv2dOp} passes (forward, backward data, backward
     * weights: what training runs) — {@link Precision#F32} by default. {@link Precision#BF16} is mixed
     * precision: bf16 operands, float32 accumulation and outputs, parameters and every other op float32.
     * Backends without it refuse BF16 with {@link IllegalArgumentException}. (The CUDA backend chooses its
     * convolution precision when it is created.)
     */
    default void setTrainingPrecision(Precision precision) {
        if (precision != Precision.F32) {
            throw new IllegalArgumentException("backend " + name() + " supports only F32 training convolutions, not "
                    + (precision == null ? null : precision.name()));
        }
    }

    /** The precision set by {@link #setTrainingPrecision}. */
    default Precision trainingPrecision() {
        return Precision.F32;
    }

    /**
     * Whether models should take their fused inference path ({@link #convForwardFused},
     * {@link #conv2dUpsampled}) on this backend by default. True where the backend implements those
     * operations itself (CPU, reference); false where only the composed defaults above exist (CUDA,
     * whose unfused path is the one checked and timed on the GPU).
     */
    default boolean fusedInferenceByDefault() {
        return true;
    }

    /** True when {@link #setInferencePrecision} accepts {@link Precision#BF16} on this machine. */
    default boolean supportsBf16Inference() {
        return false;
    }

    // ------------------------------------------------------------------ normalisation

    /**
     * 2-D batch normalisation over {@code N, H, W} per channel, optionally followed by an activation.
     *
     * <p>Training: {@code mean, var} are the batch statistics (biased variance); writes
     * {@code saveMean[c] = mean}, {@code saveInvStd[c] = 1 / sqrt(var + eps)}, and updates
     * {@code runningMean = (1 - momentum) runningMean + momentum mean},
     * {@code runningVar = (1 - momentum) runningVar + momentum var * M / (M - 1)}, M = N H W.
     * Inference: normalises with the running statistics, leaves {@code saveMean, saveInvStd} alone
     * (they may be null).
     *
     * <p>{@code y = act(gamma * (x - mean) * invStd + beta)}; {@code act} is {@link Activation#NONE}
     * or {@link Activation#RELU}.
     *
     * @param x NHWC {@code [N, H, W, C]}
     * @param gamma, beta, runningMean, runningVar, saveMean, saveInvStd {@code [C]}
     * @param y NHWC, same shape as x
     */
    void batchNormForward(
            Tensor x,
            Tensor gamma,
            Tensor beta,
            Tensor runningMean,
            Tensor runningVar,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor y,
            boolean training,
            float momentum,
            float eps,
            Activation act);

    /**
     * Backward of a training-mode {@link #batchNormForward} (batch statistics).
     *
     * @param y the forward output (used for the activation's mask when {@code act} is RELU; may be
     *     null for NONE)
     * @param dx written, same shape as x
     * @param dGamma, dBeta {@code [C]}, written
     */
    void batchNormBackward(
            Tensor dy,
            Tensor x,
            Tensor y,
            Tensor gamma,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor dx,
            Tensor dGamma,
            Tensor dBeta,
            Activation act);

    // ------------------------------------------------------------------ activations

    /** {@code y = act(x)} elementwise, any shape; {@code y} may alias {@code x}. */
    void activationForward(Activation act, Tensor x, Tensor y);

    /**
     * {@code dx = dy * act'(x)}. RELU uses {@code x > 0} (the derivative at 0 is 0), GELU uses x,
     * SIGMOID uses {@code y * (1 - y)} (y is then required; x may be null). {@code dx} may alias
     * {@code dy}.
     */
    void activationBackward(Activation act, Tensor x, Tensor y, Tensor dy, Tensor dx);

    // ------------------------------------------------------------------ pooling and resampling

    /**
     * Max pooling with a square window, PyTorch {@code F.max_pool2d(x, kernel, stride, pad)} (padding
     * counts as minus infinity, floor mode). ARU-Net uses 3 / 2 / 1.
     */
    void maxPoolForward(Tensor x, Tensor y, int kernel, int stride, int pad);

    /** Routes each {@code dy} to the first maximum of its window (row-major order); dx written. */
    void maxPoolBackward(Tensor x, Tensor dy, Tensor dx, int kernel, int stride, int pad);

    /**
     * Global max and average over H and W: {@code max[n, c] = max_hw x}, {@code avg[n, c] = mean_hw x}.
     * Either output may be null.
     *
     * @param x NHWC; max, avg {@code [N, C]}
     */
    void globalPoolForward(Tensor x, Tensor max, Tensor avg);

    /**
     * {@code dx = (dMax routed evenly to the tied maxima of each channel) + dAvg / (H W)}. Either
     * gradient may be null (then contributes nothing); {@code max} is the forward output and is
     * required when {@code dMax} is given.
     */
    void globalPoolBackward(Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx);

    /**
     * Per-pixel statistics over channels: {@code out[n, h, w, 0] = max_c x}, {@code out[.., 1] = mean_c x}
     * (the spatial-attention input, in PyTorch's {@code cat([amax, mean])} order).
     *
     * @param out NHWC {@code [N, H, W, 2]}
     */
    void channelMaxMeanForward(Tensor x, Tensor out);

    /** Backward of {@link #channelMaxMeanForward}; max gradient split evenly among ties. dx written. */
    void channelMaxMeanBackward(Tensor x, Tensor out, Tensor dOut, Tensor dx);

    /** Nearest-neighbour upsampling by 2: {@code [N, H, W, C] -> [N, 2H, 2W, C]}. */
    void upsample2xForward(Tensor x, Tensor y);

    /** {@code dx[n, h, w, c] = sum of the four dy it was copied to}. */
    void upsample2xBackward(Tensor dy, Tensor dx);

    /** {@code out = cat([a, b], channels)}: {@code [N,H,W,Ca] ++ [N,H,W,Cb] -> [N,H,W,Ca+Cb]}. */
    void concatChannels(Tensor a, Tensor b, Tensor out);

    /** Inverse of {@link #concatChannels}: {@code da = dOut[..., :Ca]}, {@code db = dOut[..., Ca:]}. */
    void splitChannels(Tensor dOut, Tensor da, Tensor db);

    // ------------------------------------------------------------------ broadcasting products

    /**
     * {@code y = x * w} where w is one of: the same shape as x (any rank); {@code [N, H, W, 1]} for NHWC
     * x (one weight per pixel, spatial attention); {@code [N, C]} for NHWC x (one weight per image and
     * channel, channel attention). {@code y} may alias {@code x}.
     */
    void mulForward(Tensor x, Tensor w, Tensor y);

    /**
     * Backward of {@link #mulForward}: {@code dx = dy * w} (broadcast), {@code dw = dy * x} reduced to
     * w's shape. Either output may be null.
     */
    void mulBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw);

    // ------------------------------------------------------------------ linear

    /** {@code y = x w^T + b}: x {@code [N, in]}, w {@code [out, in]}, b {@code [out]} or null, y {@code [N, out]}. */
    void linearForward(Tensor x, Tensor w, Tensor b, Tensor y);

    /** {@code dx = dy w}, {@code dw = dy^T x}, {@code db = sum_n dy}; dx and db may be null. */
    void linearBackward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db);

    // ------------------------------------------------------------------ losses and probabilities

    /**
     * Softmax over channels: logits NHWC {@code [N, H, W, K]} to probabilities of the same shape.
     */
    void softmax(Tensor logits, Tensor probs);

    /**
     * {@code loss = ceWeight * CE + diceWeight * DiceLoss}, the reference's {@code aru_net.loss}:
     * CE is the mean over all N H W pixels of {@code -log softmax(logits)[target]}; DiceLoss is
     * {@code 1 - mean_k (2 I_k + smooth) / (P_k + T_k + smooth)} with, pooled over the whole batch,
     * {@code I_k = sum p_k t_k}, {@code P_k = sum p_k}, {@code T_k = sum t_k} (p softmax
     * probabilities, t the one-hot target).
     *
     * @param logits NHWC {@code [N, H, W, K]}
     * @param target I32 {@code [N, H, W]} class indices in {@code [0, K)}; others throw
     *     {@link IllegalArgumentException}
     * @param dLogits written with {@code d loss / d logits}, or null for the loss alone
     * @return the loss
     */
    double crossEntropyDiceLoss(
            Tensor logits, Tensor target, Tensor dLogits, float ceWeight, float diceWeight, float smooth);

    /**
     * Focal Tversky loss (Abraham and Khan, 2019), pooled over the whole batch and averaged over the K
     * classes: with p the softmax probabilities and t the one-hot target,
     * {@code TP_k = sum p_k t_k}, {@code FN_k = sum (1 - p_k) t_k}, {@code FP_k = sum p_k (1 - t_k)},
     * {@code TI_k = (TP_k + smooth) / (TP_k + alpha FN_k + beta FP_k + smooth)},
     * {@code loss = mean_k (1 - TI_k)^gamma}. Arguments as {@link #crossEntropyDiceLoss}.
     */
    double focalTverskyLoss(
            Tensor logits, Tensor target, Tensor dLogits, float alpha, float beta, float gamma, float smooth);

    // ------------------------------------------------------------------ optimizer

    /**
     * One Adam step, PyTorch's {@code torch.optim.Adam} (L2 weight decay added to the gradient when
     * {@code weightDecay > 0}): {@code m = b1 m + (1 - b1) g}, {@code v = b2 v + (1 - b2) g^2},
     * {@code p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)}. {@code step} t starts at
     * 1. Bumps {@code param}'s version.
     */
    void adamStep(
            Tensor param,
            Tensor grad,
            Tensor m,
            Tensor v,
            float lr,
            float beta1,
            float beta2,
            float eps,
            float weightDecay,
            long step);

    /** Sum of squares of an F32 tensor (gradient norms, non-finite detection: NaN/Inf propagate). */
    double sumOfSquares(Tensor x);

    // ------------------------------------------------------------------ what training asks of a backend
    // Capabilities, not types: a training loop asks the backend (never checks its class), so that a
    // decorator such as ProfilingBackend forwards them and keeps the backend's fast paths.

    /**
     * True when training on this backend needs dynamic loss scaling: its convolutions run in float16
     * ({@link Precision#F16}), whose small exponent range makes small gradients underflow
     * ({@code org.arunet.train.LossScaler}). False by default.
     */
    default boolean requiresLossScaling() {
        return false;
    }

    /**
     * Multiplies every F32 tensor by {@code factor} in place (when it is not 1) and returns the sum of
     * squares of each after scaling: the gradient norm and finiteness check of a training step, and the
     * unscaling of loss-scaled gradients. NaN and infinity propagate into the sums.
     *
     * <p>The default runs {@link #scale} (unless {@code factor} is 1) and {@link #sumOfSquares} per
     * tensor; backends may fuse it (the GPU backend: one batch of kernels and a single synchronization
     * for all tensors).
     */
    default double[] scaleAndSumSquares(java.util.List<Tensor> tensors, float factor) {
        double[] sums = new double[tensors.size()];
        for (int i = 0; i < sums.length; i++) {
            Tensor g = tensors.get(i);
            if (factor != 1f) {
                scale(g, factor, g);
            }
            sums[i] = sumOfSquares(g);
        }
        return sums;
    }

    /** Releases caches and native contexts. Tensors the backend allocated are owned by their callers. */
    @Override
    void close();
}
