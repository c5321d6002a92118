package org.arunet.backend;

import java.util.Arrays;
import org.arunet.tensor.Device;
import org.arunet.tensor.Tensor;

/**
 * The argument validation of the native backends' convolution ops (CPU and CUDA) for one spec on one
 * device, throwing {@link IllegalArgumentException} naming the op, the spec and the shapes.
 *
 * <p>{@code factor} 2 is for an op that convolves the 2x nearest-neighbour upsampling of its input: x
 * and dx are then the low-resolution tensors, y and dy the outputs for the upsampled input.
 * {@code namesUpsampling} says whether an output-shape error says so ("for x [...] upsampled 2x"): the
 * CUDA ops' messages do, the CPU op's never did.
 */
public final class ConvChecks {
    private final Conv2dSpec spec;
    private final Device device;
    private final boolean namesUpsampling;

    public ConvChecks(Conv2dSpec spec, Device device, boolean namesUpsampling) {
        this.spec = spec;
        this.device = device;
        this.namesUpsampling = namesUpsampling;
    }

    /**
     * An NHWC activation of the input side, {@code [N, H, W, in]}, non-empty, whose (factor times
     * upsampled) size holds the kernel span.
     */
    public void input(String op, String name, Tensor t, int factor) {
        Checks.nhwc(op, name, t, device);
        if (t.dim(3) != spec.inChannels() || t.dim(0) <= 0 || t.dim(1) <= 0 || t.dim(2) <= 0) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " must be [N, H, W, " + spec.inChannels()
                    + "] (non-empty), got " + t.describe());
        }
        span(op, name + " " + t.describe() + (factor == 1 ? "" : " upsampled"), factor * t.dim(1), factor * t.dim(2));
    }

    /**
     * As PyTorch: the padded input must hold the dilated kernel (outH's truncating division alone
     * would accept some smaller inputs with stride > 1).
     */
    public void span(String op, String what, int h, int w) {
        int spanH = spec.dilationH() * (spec.kernelH() - 1) + 1;
        int spanW = spec.dilationW() * (spec.kernelW() - 1) + 1;
        if (h + 2 * spec.padH() < spanH || w + 2 * spec.padW() < spanW) {
            throw new IllegalArgumentException(op + " " + spec + ": " + what + " is smaller than the kernel span "
                    + spanH + "x" + spanW + " with its padding");
        }
    }

    /** An NHWC activation of the output side, for the input-side tensor {@code in} (factor times upsampled). */
    public void output(String op, String name, Tensor t, String inName, Tensor in, int factor) {
        Checks.nhwc(op, name, t, device);
        int[] want = {in.dim(0), spec.outH(factor * in.dim(1)), spec.outW(factor * in.dim(2)), spec.outChannels()};
        if (!t.hasShape(want)) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " must be " + Arrays.toString(want)
                    + " for " + inName + " " + in.describe() + (factor == 1 || !namesUpsampling ? "" : " upsampled 2x")
                    + ", got " + t.describe());
        }
    }

    /** OIHW weights (or their gradient) of the spec's shape. */
    public void weights(String op, String name, Tensor w) {
        Checks.shape(op + " " + spec, name, w, device, spec.weightShape());
    }

    /** The bias (or its gradient): required exactly when the spec has one. */
    public void bias(String op, String name, Tensor b) {
        if (spec.bias()) {
            Checks.shape(op + " " + spec, name + " (the spec has a bias)", b, device, spec.outChannels());
        } else if (b != null) {
            throw new IllegalArgumentException(op + " " + spec + ": " + name + " given to a convolution without bias");
        }
    }

    /** The arguments of {@link Conv2dOp#forward}. */
    public void forward(String op, Tensor x, Tensor w, Tensor b, Tensor y, int factor) {
        input(op, "x", x, factor);
        weights(op, "w", w);
        bias(op, "b", b);
        output(op, "y", y, "x", x, factor);
        Checks.disjoint(op, 1, "y", y, "x", x, "w", w, "b", b);
    }

    /** The arguments of {@link Conv2dOp#backwardData}. */
    public void backwardData(String op, Tensor dy, Tensor w, Tensor dx, int factor) {
        input(op, "dx", dx, factor);
        weights(op, "w", w);
        output(op, "dy", dy, "dx", dx, factor);
        Checks.disjoint(op, 1, "dx", dx, "dy", dy, "w", w);
    }

    /** The arguments of {@link Conv2dOp#backwardWeights}. */
    public void backwardWeights(String op, Tensor x, Tensor dy, Tensor dw, Tensor db, int factor) {
        input(op, "x", x, factor);
        output(op, "dy", dy, "x", x, factor);
        weights(op, "dw", dw);
        bias(op, "db", db);
        Checks.disjoint(op, 2, "dw", dw, "db", db, "x", x, "dy", dy);
    }
}
