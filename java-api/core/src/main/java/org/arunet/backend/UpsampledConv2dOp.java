package org.arunet.backend;

import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * {@code y = conv(upsample2x(x))} composed of a backend's own ops: the default of
 * {@link Backend#conv2dUpsampled} for backends without a direct implementation. It materialises the
 * upsampled input (and its gradient) in tensors it owns, reallocated only when the shape changes,
 * freed by {@link #close()}. {@link #backwardWeights} upsamples x again (x may have changed since the
 * forward pass).
 */
final class UpsampledConv2dOp implements Conv2dOp {
    private final Backend backend;
    private final Conv2dOp inner;
    private Tensor up;
    private Tensor dUp;

    UpsampledConv2dOp(Backend backend, Conv2dSpec spec) {
        this.backend = backend;
        this.inner = backend.conv2d(spec);
    }

    @Override
    public Conv2dSpec spec() {
        return inner.spec();
    }

    private static Tensor sized(Backend be, Tensor t, int[] shape) {
        if (t != null && t.hasShape(shape)) {
            return t;
        }
        if (t != null) {
            t.close();
        }
        return be.allocate(DType.F32, Layout.NHWC, shape);
    }

    private static int[] doubled(String op, Tensor x) {
        if (x == null || x.rank() != 4) {
            throw new IllegalArgumentException(
                    op + ": x must be NHWC [N, H, W, C], got " + (x == null ? "null" : x.describe()));
        }
        return new int[] {x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3)};
    }

    @Override
    public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
        up = sized(backend, up, doubled("conv2dUpsampled.forward", x));
        backend.upsample2xForward(x, up);
        inner.forward(up, w, b, y, training);
    }

    @Override
    public void backwardData(Tensor dy, Tensor w, Tensor dx) {
        dUp = sized(backend, dUp, doubled("conv2dUpsampled.backwardData", dx));
        inner.backwardData(dy, w, dUp);
        backend.upsample2xBackward(dUp, dx);
    }

    @Override
    public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
        up = sized(backend, up, doubled("conv2dUpsampled.backwardWeights", x));
        backend.upsample2xForward(x, up);
        inner.backwardWeights(up, dy, dw, db);
    }

    @Override
    public void close() {
        inner.close();
        if (up != null) {
            up.close();
            up = null;
        }
        if (dUp != null) {
            dUp.close();
            dUp = null;
        }
    }

    @Override
    public String toString() {
        return "conv2dUpsampled" + inner.spec();
    }
}
