package org.arunet.backend.cuda;

import org.arunet.backend.Checks;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.Tensor;

/**
 * {@code y = conv(upsample2x(x))} on the GPU ({@link CudaBackend#conv2dUpsampled}). Unlike the composed
 * default of {@link org.arunet.backend.Backend#conv2dUpsampled}, it keeps no upsampled tensor between
 * calls: the forward pass writes the upsampled input straight in the convolution's precision into a
 * temporary of the context's pool ({@link CudaConv2dOp.Source#UPSAMPLED}), and the backward passes take
 * their full-resolution buffers from the pool for the duration of the call, so that a network's
 * decoders share that memory instead of each holding two full-resolution tensors.
 */
final class CudaUpsampledConv2dOp implements Conv2dOp {
    private static final long[] NO_OPERANDS = new long[4];

    private final CudaBackend backend;
    private final CudaConv2dOp inner;

    CudaUpsampledConv2dOp(CudaBackend backend, CudaConv2dOp inner) {
        this.backend = backend;
        this.inner = inner;
    }

    CudaBackend backend() {
        return backend;
    }

    /** The convolution of the upsampled input. */
    CudaConv2dOp inner() {
        return inner;
    }

    @Override
    public Conv2dSpec spec() {
        return inner.spec();
    }

    @Override
    public void forward(Tensor x, Tensor w, Tensor b, Tensor y, boolean training) {
        String op = "conv2dUpsampled.forward";
        inner.checks().forward(op, x, w, b, y, 2);
        backend.run(
                op + " " + spec(),
                CudaBackend.of(x, w, y),
                () -> inner.forwardFused(CudaConv2dOp.Source.UPSAMPLED, x, null, w, b, y, 0, NO_OPERANDS, false));
    }

    @Override
    public void backwardData(Tensor dy, Tensor w, Tensor dx) {
        inner.checks().backwardData("conv2dUpsampled.backwardData", dy, w, dx, 2);
        try (Tensor dUp = backend.scratch(dx.dim(0), 2 * dx.dim(1), 2 * dx.dim(2), dx.dim(3))) {
            inner.backwardData(dy, w, dUp);
            backend.upsample2xBackward(dUp, dx);
        }
    }

    @Override
    public void backwardWeights(Tensor x, Tensor dy, Tensor dw, Tensor db) {
        String op = "conv2dUpsampled.backwardWeights";
        inner.checks().input(op, "x", x, 2);
        inner.checks().output(op, "dy", dy, "x", x, 2);
        Checks.present(op, "dw", dw, CudaBackend.DEVICE);
        try (Tensor up = backend.scratch(x.dim(0), 2 * x.dim(1), 2 * x.dim(2), x.dim(3))) {
            backend.upsample2xForward(x, up);
            inner.backwardWeights(up, dy, dw, db);
        }
    }

    @Override
    public void close() {
        inner.close();
    }
}
