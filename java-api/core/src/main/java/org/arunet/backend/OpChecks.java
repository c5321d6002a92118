package org.arunet.backend;

import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * The argument validation of each {@link Backend} op, shared by the native backends (CPU and CUDA):
 * one method per op, run before anything reaches native code or the device, throwing
 * {@link IllegalArgumentException} naming the op, the argument and the shapes ({@link Checks}). Where
 * the validation computes something the op needs (the broadcast mode of a product, the sizes of a
 * linear layer, a pooling output shape), the method returns it.
 *
 * <p>The reference backend keeps its own, stricter and differently worded checks: it is the oracle.
 */
public final class OpChecks {
    private OpChecks() {}

    // ------------------------------------------------------------------ basics

    public static void copy(Device d, Tensor src, Tensor dst) {
        String op = "copy";
        Checks.present(op, "src", src, d);
        Checks.present(op, "dst", dst, d);
        if (src.dtype() != dst.dtype() || !src.sameShape(dst)) {
            throw new IllegalArgumentException(
                    op + ": dst " + dst.describe() + " must have the dtype and shape of src " + src.describe());
        }
        Checks.noAlias(op, "src", src, "dst", dst);
    }

    public static void fill(Device d, Tensor t) {
        Checks.f32("fill", "t", t, d);
    }

    public static void add(Device d, Tensor a, Tensor b, Tensor y) {
        String op = "add";
        Checks.f32(op, "a", a, d);
        Checks.like(op, "b", b, d, "a", a);
        Checks.like(op, "y", y, d, "a", a);
        Checks.sameOrDisjoint(op, "y", y, "a", a);
        Checks.sameOrDisjoint(op, "y", y, "b", b);
    }

    public static void addInPlace(Device d, Tensor y, Tensor x) {
        String op = "addInPlace";
        Checks.f32(op, "y", y, d);
        Checks.f32(op, "x", x, d);
        if (y.numel() != x.numel()) {
            throw new IllegalArgumentException(
                    op + ": y " + y.describe() + " and x " + x.describe() + " must have the same number of elements");
        }
        Checks.sameOrDisjoint(op, "y", y, "x", x);
    }

    public static void scale(Device d, Tensor x, Tensor y) {
        String op = "scale";
        Checks.f32(op, "x", x, d);
        Checks.like(op, "y", y, d, "x", x);
        Checks.sameOrDisjoint(op, "y", y, "x", x);
    }

    // ------------------------------------------------------------------ normalisation

    public static void batchNormForward(
            Device d,
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
            Activation act) {
        String op = "batchNormForward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        int ch = x.dim(3);
        Checks.shape(op, "gamma", gamma, d, ch);
        Checks.shape(op, "beta", beta, d, ch);
        Checks.shape(op, "runningMean", runningMean, d, ch);
        Checks.shape(op, "runningVar", runningVar, d, ch);
        if (training || saveMean != null) {
            Checks.shape(op, "saveMean", saveMean, d, ch);
        }
        if (training || saveInvStd != null) {
            Checks.shape(op, "saveInvStd", saveInvStd, d, ch);
        }
        Checks.like(op, "y", y, d, "x", x);
        if (act != Activation.NONE && act != Activation.RELU) {
            throw new IllegalArgumentException(op + ": activation must be NONE or RELU, got " + act);
        }
        if (!(momentum >= 0f && momentum <= 1f)) {
            throw new IllegalArgumentException(op + ": momentum must be in [0, 1], got " + momentum);
        }
        if (!(eps >= 0f) || Float.isInfinite(eps)) {
            throw new IllegalArgumentException(op + ": eps must be finite and >= 0, got " + eps);
        }
        long m = (long) x.dim(0) * x.dim(1) * x.dim(2);
        if (training && m < 2) {
            throw new IllegalArgumentException(
                    op + ": training needs more than one value per channel, got x " + x.describe());
        }
        Checks.disjoint(
                op,
                5,
                "y",
                y,
                "runningMean",
                runningMean,
                "runningVar",
                runningVar,
                "saveMean",
                training ? saveMean : null,
                "saveInvStd",
                training ? saveInvStd : null,
                "x",
                x,
                "gamma",
                gamma,
                "beta",
                beta);
    }

    public static void batchNormBackward(
            Device d,
            Tensor dy,
            Tensor x,
            Tensor y,
            Tensor gamma,
            Tensor saveMean,
            Tensor saveInvStd,
            Tensor dx,
            Tensor dGamma,
            Tensor dBeta,
            Activation act) {
        String op = "batchNormBackward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        int ch = x.dim(3);
        Checks.like(op, "dy", dy, d, "x", x);
        if (act != Activation.NONE && act != Activation.RELU) {
            throw new IllegalArgumentException(op + ": activation must be NONE or RELU, got " + act);
        }
        boolean relu = act == Activation.RELU;
        if (relu || y != null) {
            Checks.like(op, "y", y, d, "x", x);
        }
        Checks.shape(op, "gamma", gamma, d, ch);
        Checks.shape(op, "saveMean", saveMean, d, ch);
        Checks.shape(op, "saveInvStd", saveInvStd, d, ch);
        Checks.like(op, "dx", dx, d, "x", x);
        Checks.shape(op, "dGamma", dGamma, d, ch);
        Checks.shape(op, "dBeta", dBeta, d, ch);
        Checks.disjoint(
                op,
                3,
                "dx",
                dx,
                "dGamma",
                dGamma,
                "dBeta",
                dBeta,
                "dy",
                dy,
                "x",
                x,
                "y",
                y,
                "gamma",
                gamma,
                "saveMean",
                saveMean,
                "saveInvStd",
                saveInvStd);
    }

    // ------------------------------------------------------------------ activations

    /** Returns the op's name for error messages, {@code activationForward(<act>)}. */
    public static String activationForward(Device d, Activation act, Tensor x, Tensor y) {
        if (act == null) {
            throw new IllegalArgumentException("activationForward: act is null");
        }
        String op = "activationForward(" + act + ")";
        Checks.f32(op, "x", x, d);
        Checks.like(op, "y", y, d, "x", x);
        Checks.sameOrDisjoint(op, "y", y, "x", x);
        return op;
    }

    /** Returns the op's name for error messages, {@code activationBackward(<act>)}. */
    public static String activationBackward(Device d, Activation act, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        if (act == null) {
            throw new IllegalArgumentException("activationBackward: act is null");
        }
        String op = "activationBackward(" + act + ")";
        Checks.f32(op, "dy", dy, d);
        Checks.like(op, "dx", dx, d, "dy", dy);
        boolean needX = activationBackwardNeedsX(act);
        boolean needY = activationBackwardNeedsY(act);
        if (needX || x != null) {
            Checks.like(op, "x", x, d, "dy", dy);
        }
        if (needY || y != null) {
            Checks.like(op, "y", y, d, "dy", dy);
        }
        Checks.sameOrDisjoint(op, "dx", dx, "dy", dy);
        Checks.disjoint(op, 1, "dx", dx, "x", needX ? x : null, "y", needY ? y : null);
        return op;
    }

    /** Whether the gradient of {@code act} reads the input x (RELU, GELU). */
    public static boolean activationBackwardNeedsX(Activation act) {
        return act == Activation.RELU || act == Activation.GELU;
    }

    /** Whether the gradient of {@code act} reads the output y (SIGMOID). */
    public static boolean activationBackwardNeedsY(Activation act) {
        return act == Activation.SIGMOID;
    }

    // ------------------------------------------------------------------ pooling and resampling

    private static int[] poolOut(String op, Tensor x, int kernel, int stride, int pad) {
        if (kernel <= 0 || stride <= 0 || pad < 0 || 2 * pad > kernel) {
            throw new IllegalArgumentException(op + ": need kernel > 0, stride > 0 and 0 <= pad <= kernel / 2, got"
                    + " kernel=" + kernel + " stride=" + stride + " pad=" + pad);
        }
        int oh = (x.dim(1) + 2 * pad - kernel) / stride + 1;
        int ow = (x.dim(2) + 2 * pad - kernel) / stride + 1;
        if (x.dim(1) + 2 * pad < kernel || x.dim(2) + 2 * pad < kernel) {
            throw new IllegalArgumentException(op + ": input " + x.describe() + " is smaller than the window (kernel="
                    + kernel + ", pad=" + pad + ")");
        }
        return new int[] {x.dim(0), oh, ow, x.dim(3)};
    }

    /** Returns the output shape {@code [N, OH, OW, C]}. */
    public static int[] maxPoolForward(Device d, Tensor x, Tensor y, int kernel, int stride, int pad) {
        String op = "maxPoolForward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        int[] out = poolOut(op, x, kernel, stride, pad);
        Checks.nhwc(op, "y", y, d);
        Checks.shape(op + " (kernel=" + kernel + ", stride=" + stride + ", pad=" + pad + ")", "y", y, d, out);
        Checks.disjoint(op, 1, "y", y, "x", x);
        return out;
    }

    /** Returns the shape of dy, {@code [N, OH, OW, C]}. */
    public static int[] maxPoolBackward(Device d, Tensor x, Tensor dy, Tensor dx, int kernel, int stride, int pad) {
        String op = "maxPoolBackward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        int[] out = poolOut(op, x, kernel, stride, pad);
        Checks.nhwc(op, "dy", dy, d);
        Checks.shape(op + " (kernel=" + kernel + ", stride=" + stride + ", pad=" + pad + ")", "dy", dy, d, out);
        Checks.nhwc(op, "dx", dx, d);
        Checks.like(op, "dx", dx, d, "x", x);
        Checks.disjoint(op, 1, "dx", dx, "x", x, "dy", dy);
        return out;
    }

    public static void globalPoolForward(Device d, Tensor x, Tensor max, Tensor avg) {
        String op = "globalPoolForward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        if (max != null) {
            Checks.shape(op, "max", max, d, x.dim(0), x.dim(3));
        }
        if (avg != null) {
            Checks.shape(op, "avg", avg, d, x.dim(0), x.dim(3));
        }
        Checks.disjoint(op, 2, "max", max, "avg", avg, "x", x);
    }

    public static void globalPoolBackward(Device d, Tensor x, Tensor max, Tensor dMax, Tensor dAvg, Tensor dx) {
        String op = "globalPoolBackward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        Checks.like(op, "dx", dx, d, "x", x);
        if (dMax != null) {
            Checks.shape(op, "dMax", dMax, d, x.dim(0), x.dim(3));
            Checks.shape(op, "max (required with dMax)", max, d, x.dim(0), x.dim(3));
        }
        if (dAvg != null) {
            Checks.shape(op, "dAvg", dAvg, d, x.dim(0), x.dim(3));
        }
        Checks.disjoint(op, 1, "dx", dx, "x", x, "max", dMax != null ? max : null, "dMax", dMax, "dAvg", dAvg);
    }

    public static void channelMaxMeanForward(Device d, Tensor x, Tensor out) {
        String op = "channelMaxMeanForward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        Checks.nhwc(op, "out", out, d);
        Checks.shape(op, "out", out, d, x.dim(0), x.dim(1), x.dim(2), 2);
        Checks.disjoint(op, 1, "out", out, "x", x);
    }

    public static void channelMaxMeanBackward(Device d, Tensor x, Tensor out, Tensor dOut, Tensor dx) {
        String op = "channelMaxMeanBackward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        Checks.shape(op, "out", out, d, x.dim(0), x.dim(1), x.dim(2), 2);
        Checks.shape(op, "dOut", dOut, d, x.dim(0), x.dim(1), x.dim(2), 2);
        Checks.like(op, "dx", dx, d, "x", x);
        Checks.disjoint(op, 1, "dx", dx, "x", x, "out", out, "dOut", dOut);
    }

    public static void upsample2xForward(Device d, Tensor x, Tensor y) {
        String op = "upsample2xForward";
        Checks.nhwcNonEmpty(op, "x", x, d);
        Checks.nhwc(op, "y", y, d);
        Checks.shape(op, "y", y, d, x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3));
        Checks.disjoint(op, 1, "y", y, "x", x);
    }

    public static void upsample2xBackward(Device d, Tensor dy, Tensor dx) {
        String op = "upsample2xBackward";
        Checks.nhwcNonEmpty(op, "dx", dx, d);
        Checks.nhwc(op, "dy", dy, d);
        Checks.shape(op, "dy", dy, d, dx.dim(0), 2 * dx.dim(1), 2 * dx.dim(2), dx.dim(3));
        Checks.disjoint(op, 1, "dx", dx, "dy", dy);
    }

    public static void concatChannels(Device d, Tensor a, Tensor b, Tensor out) {
        String op = "concatChannels";
        Checks.nhwcNonEmpty(op, "a", a, d);
        Checks.nhwcNonEmpty(op, "b", b, d);
        if (a.dim(0) != b.dim(0) || a.dim(1) != b.dim(1) || a.dim(2) != b.dim(2)) {
            throw new IllegalArgumentException(
                    op + ": a " + a.describe() + " and b " + b.describe() + " must agree in N, H, W");
        }
        Checks.nhwc(op, "out", out, d);
        Checks.shape(op, "out", out, d, a.dim(0), a.dim(1), a.dim(2), a.dim(3) + b.dim(3));
        Checks.disjoint(op, 1, "out", out, "a", a, "b", b);
    }

    public static void splitChannels(Device d, Tensor dOut, Tensor da, Tensor db) {
        String op = "splitChannels";
        Checks.nhwcNonEmpty(op, "da", da, d);
        Checks.nhwcNonEmpty(op, "db", db, d);
        if (da.dim(0) != db.dim(0) || da.dim(1) != db.dim(1) || da.dim(2) != db.dim(2)) {
            throw new IllegalArgumentException(
                    op + ": da " + da.describe() + " and db " + db.describe() + " must agree in N, H, W");
        }
        Checks.nhwc(op, "dOut", dOut, d);
        Checks.shape(op, "dOut", dOut, d, da.dim(0), da.dim(1), da.dim(2), da.dim(3) + db.dim(3));
        Checks.disjoint(op, 2, "da", da, "db", db, "dOut", dOut);
    }

    // ------------------------------------------------------------------ broadcasting products

    /** Same shape as x: w multiplies element by element. */
    public static final int MUL_SAME = 0;
    /** w is {@code [N, H, W, 1]} for NHWC x: one factor per pixel. */
    public static final int MUL_PIXEL = 1;
    /** w is {@code [N, C]} for NHWC x: one factor per image and channel. */
    public static final int MUL_CHANNEL = 2;

    /** The broadcast form of w against x: {@link #MUL_SAME}, {@link #MUL_PIXEL} or {@link #MUL_CHANNEL}. */
    private static int mulMode(String op, Device d, Tensor x, Tensor w) {
        Checks.f32(op, "x", x, d);
        Checks.f32(op, "w", w, d);
        if (w.sameShape(x)) {
            return MUL_SAME;
        }
        if (x.rank() == 4 && x.layout() == Layout.NHWC) {
            if (w.hasShape(x.dim(0), x.dim(1), x.dim(2), 1)) {
                return MUL_PIXEL;
            }
            if (w.hasShape(x.dim(0), x.dim(3))) {
                return MUL_CHANNEL;
            }
        }
        throw new IllegalArgumentException(op + ": w " + w.describe() + " must have the shape of x " + x.describe()
                + ", or be [N, H, W, 1] or [N, C] for NHWC x");
    }

    /** Returns the broadcast mode of w against x (see {@link #MUL_SAME}). */
    public static int mulForward(Device d, Tensor x, Tensor w, Tensor y) {
        String op = "mulForward";
        int mode = mulMode(op, d, x, w);
        Checks.like(op, "y", y, d, "x", x);
        Checks.sameOrDisjoint(op, "y", y, "x", x);
        Checks.disjoint(op, 1, "y", y, "w", w);
        return mode;
    }

    /** Returns the broadcast mode of w against x (see {@link #MUL_SAME}). */
    public static int mulBackward(Device d, Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw) {
        String op = "mulBackward";
        int mode = mulMode(op, d, x, w);
        Checks.like(op, "dy", dy, d, "x", x);
        if (dx != null) {
            Checks.like(op, "dx", dx, d, "x", x);
        }
        if (dw != null) {
            Checks.like(op, "dw", dw, d, "w", w);
        }
        Checks.disjoint(op, 2, "dx", dx, "dw", dw, "dy", dy, "x", x, "w", w);
        return mode;
    }

    // ------------------------------------------------------------------ linear

    /** {N, in, out} after checking x [N, in] and w [out, in]. */
    private static int[] linearSizes(String op, Device d, Tensor x, Tensor w) {
        Checks.f32(op, "x", x, d);
        Checks.f32(op, "w", w, d);
        if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(1) || x.dim(0) <= 0 || x.dim(1) <= 0 || w.dim(0) <= 0) {
            throw new IllegalArgumentException(
                    op + ": need x [N, in] and w [out, in] (non-empty), got x " + x.describe() + ", w " + w.describe());
        }
        return new int[] {x.dim(0), x.dim(1), w.dim(0)};
    }

    /** Returns {@code {N, in, out}}. */
    public static int[] linearForward(Device d, Tensor x, Tensor w, Tensor b, Tensor y) {
        String op = "linearForward";
        int[] nio = linearSizes(op, d, x, w);
        if (b != null) {
            Checks.shape(op, "b", b, d, nio[2]);
        }
        Checks.shape(op, "y", y, d, nio[0], nio[2]);
        Checks.disjoint(op, 1, "y", y, "x", x, "w", w, "b", b);
        return nio;
    }

    /** Returns {@code {N, in, out}}. */
    public static int[] linearBackward(Device d, Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db) {
        String op = "linearBackward";
        int[] nio = linearSizes(op, d, x, w);
        Checks.shape(op, "dy", dy, d, nio[0], nio[2]);
        if (dx != null) {
            Checks.shape(op, "dx", dx, d, nio[0], nio[1]);
        }
        Checks.shape(op, "dw", dw, d, nio[2], nio[1]);
        if (db != null) {
            Checks.shape(op, "db", db, d, nio[2]);
        }
        Checks.disjoint(op, 3, "dx", dx, "dw", dw, "db", db, "dy", dy, "x", x, "w", w);
        return nio;
    }

    // ------------------------------------------------------------------ losses and probabilities

    public static void softmax(Device d, Tensor logits, Tensor probs) {
        String op = "softmax";
        Checks.nhwcNonEmpty(op, "logits", logits, d);
        Checks.like(op, "probs", probs, d, "logits", logits);
        Checks.disjoint(op, 1, "probs", probs, "logits", logits);
    }

    /** The scalar arguments of crossEntropyDiceLoss (checked before its tensors, {@link #lossTensors}). */
    public static void crossEntropyDiceLossScalars(float ceWeight, float diceWeight, float smooth) {
        String op = "crossEntropyDiceLoss";
        Checks.finite(op, "ceWeight", ceWeight);
        Checks.finite(op, "diceWeight", diceWeight);
        Checks.finite(op, "smooth", smooth);
    }

    /** The scalar arguments of focalTverskyLoss (checked before its tensors, {@link #lossTensors}). */
    public static void focalTverskyLossScalars(float alpha, float beta, float gamma, float smooth) {
        String op = "focalTverskyLoss";
        Checks.finite(op, "alpha", alpha);
        Checks.finite(op, "beta", beta);
        Checks.finite(op, "gamma", gamma);
        Checks.finite(op, "smooth", smooth);
    }

    /**
     * The tensors of a loss: logits NHWC {@code [N, H, W, K]} (non-empty), target I32 {@code [N, H, W]},
     * dLogits null or like logits, dLogits sharing no memory with the inputs. The target values are the
     * backend's to check (on the device or natively). Returns the pixel count {@code N H W}.
     */
    public static long lossTensors(String op, Device d, Tensor logits, Tensor target, Tensor dLogits) {
        Checks.nhwcNonEmpty(op, "logits", logits, d);
        Checks.present(op, "target", target, d);
        if (target.dtype() != DType.I32 || !target.hasShape(logits.dim(0), logits.dim(1), logits.dim(2))) {
            throw new IllegalArgumentException(op + ": target must be I32 [" + logits.dim(0) + ", " + logits.dim(1)
                    + ", " + logits.dim(2) + "] for logits " + logits.describe() + ", got " + target.describe());
        }
        if (dLogits != null) {
            Checks.like(op, "dLogits", dLogits, d, "logits", logits);
        }
        Checks.disjoint(op, 1, "dLogits", dLogits, "logits", logits, "target", target);
        return (long) logits.dim(0) * logits.dim(1) * logits.dim(2);
    }

    // ------------------------------------------------------------------ optimizer

    public static void adamStep(
            Device d,
            Tensor param,
            Tensor grad,
            Tensor m,
            Tensor v,
            float lr,
            float beta1,
            float beta2,
            float eps,
            float weightDecay,
            long step) {
        String op = "adamStep";
        Checks.f32(op, "param", param, d);
        Checks.like(op, "grad", grad, d, "param", param);
        Checks.like(op, "m", m, d, "param", param);
        Checks.like(op, "v", v, d, "param", param);
        Checks.disjoint(op, 3, "param", param, "m", m, "v", v, "grad", grad);
        if (!(lr >= 0f)
                || !(eps >= 0f)
                || !(weightDecay >= 0f)
                || !(beta1 >= 0f && beta1 < 1f)
                || !(beta2 >= 0f && beta2 < 1f)
                || Float.isInfinite(lr)
                || Float.isInfinite(eps)
                || Float.isInfinite(weightDecay)) {
            throw new IllegalArgumentException(op + ": need finite lr, eps, weightDecay >= 0 and betas in [0, 1), got"
                    + " lr=" + lr + " beta1=" + beta1 + " beta2=" + beta2 + " eps=" + eps + " weightDecay="
                    + weightDecay);
        }
        if (step < 1) {
            throw new IllegalArgumentException(op + ": step starts at 1, got " + step);
        }
    }

    public static void sumOfSquares(Device d, Tensor x) {
        Checks.f32("sumOfSquares", "x", x, d);
    }
}
