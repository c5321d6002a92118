package org.arunet.testkit;

import java.util.ArrayList;
import java.util.List;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dOp;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/** Tensors and ops one case makes on a backend, all closed together (in reverse order). */
public final class Scope implements AutoCloseable {
    private final Backend backend;
    private final List<AutoCloseable> owned = new ArrayList<>();

    public Scope(Backend backend) {
        this.backend = backend;
    }

    public Backend backend() {
        return backend;
    }

    /** A zeroed F32 tensor. */
    public Tensor f32(Layout layout, int... shape) {
        return keep(backend.allocate(DType.F32, layout, shape));
    }

    public Tensor nhwc(int... shape) {
        return f32(Layout.NHWC, shape);
    }

    public Tensor plain(int... shape) {
        return f32(Layout.PLAIN, shape);
    }

    /** A tensor of the same dtype, layout and shape. */
    public Tensor like(Tensor t) {
        return keep(backend.allocate(t.dtype(), t.layout(), t.shape()));
    }

    public Tensor upload(HostTensor h) {
        return keep(h.upload(backend));
    }

    public Conv2dOp conv(Conv2dSpec spec) {
        return keep(backend.conv2d(spec));
    }

    /** A convolution of the 2x upsampled input ({@link Backend#conv2dUpsampled}). */
    public Conv2dOp convUpsampled(Conv2dSpec spec) {
        return keep(backend.conv2dUpsampled(spec));
    }

    public <T extends AutoCloseable> T keep(T t) {
        owned.add(t);
        return t;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                if (first == null) {
                    first = e instanceof RuntimeException r ? r : new RuntimeException(e);
                }
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
