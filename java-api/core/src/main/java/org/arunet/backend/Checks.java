package org.arunet.backend;

import java.util.Arrays;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Argument validation shared by the backends: every check throws {@link IllegalArgumentException}
 * naming the operation, the argument and the shapes, before anything reaches native code.
 */
public final class Checks {
    private Checks() {}

    /** Non-null, open, F32 (unless stated), on the given device. */
    public static void present(String op, String name, Tensor t, Device device) {
        if (t == null) {
            throw new IllegalArgumentException(op + ": " + name + " is null");
        }
        if (t.isClosed()) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " was closed");
        }
        if (t.device() != device) {
            throw new IllegalArgumentException(op + ": " + name + " is on " + t.device() + ", backend is " + device);
        }
    }

    public static void f32(String op, String name, Tensor t, Device device) {
        present(op, name, t, device);
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": " + name + " must be F32, got " + t.describe());
        }
    }

    /** F32, rank 4, NHWC. */
    public static void nhwc(String op, String name, Tensor t, Device device) {
        f32(op, name, t, device);
        if (t.rank() != 4 || t.layout() != Layout.NHWC) {
            throw new IllegalArgumentException(op + ": " + name + " must be NHWC rank 4, got " + t.describe());
        }
    }

    /** As {@link #nhwc}, and no dimension is 0. */
    public static void nhwcNonEmpty(String op, String name, Tensor t, Device device) {
        nhwc(op, name, t, device);
        for (int i = 0; i < 4; i++) {
            if (t.dim(i) <= 0) {
                throw new IllegalArgumentException(op + ": " + name + " must not be empty, got " + t.describe());
            }
        }
    }

    /** F32 with exactly this shape. */
    public static void shape(String op, String name, Tensor t, Device device, int... shape) {
        f32(op, name, t, device);
        if (!t.hasShape(shape)) {
            throw new IllegalArgumentException(
                    op + ": " + name + " must be " + Arrays.toString(shape) + ", got " + t.describe());
        }
    }

    /** Same shape as a reference tensor. */
    public static void like(String op, String name, Tensor t, Device device, String refName, Tensor ref) {
        f32(op, name, t, device);
        if (!t.sameShape(ref)) {
            throw new IllegalArgumentException(op + ": " + name + " " + t.describe() + " must have the shape of "
                    + refName + " " + ref.describe());
        }
    }

    /** Two distinct tensors must not share memory where the op does not allow it. */
    public static void noAlias(String op, String a, Tensor ta, String b, Tensor tb) {
        if (ta != null && tb != null) {
            long s1 = ta.address();
            long e1 = s1 + ta.bytes();
            long s2 = tb.address();
            long e2 = s2 + tb.bytes();
            if (s1 < e2 && s2 < e1) {
                throw new IllegalArgumentException(op + ": " + a + " and " + b + " overlap in memory");
            }
        }
    }

    /**
     * No output shares memory with another output or with an input. {@code pairs} alternates names
     * and tensors, the first {@code outputs} pairs being the outputs; null tensors are skipped
     * (inputs may share memory with each other).
     */
    public static void disjoint(String op, int outputs, Object... pairs) {
        for (int i = 0; i < 2 * outputs; i += 2) {
            for (int j = i + 2; j < pairs.length; j += 2) {
                noAlias(op, (String) pairs[i], (Tensor) pairs[i + 1], (String) pairs[j], (Tensor) pairs[j + 1]);
            }
        }
    }

    /** {@code out} is exactly {@code in} (same memory, allowed in place) or shares none of it. */
    public static void sameOrDisjoint(String op, String outName, Tensor out, String inName, Tensor in) {
        if (out != null && in != null && out.address() == in.address() && out.bytes() == in.bytes()) {
            return;
        }
        noAlias(op, outName, out, inName, in);
    }

    /** A finite float argument. */
    public static void finite(String op, String name, float v) {
        if (!Float.isFinite(v)) {
            throw new IllegalArgumentException(op + ": " + name + " must be finite, got " + v);
        }
    }

    /** A positive size. */
    public static void positive(String op, String name, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(op + ": " + name + " must be positive, got " + v);
        }
    }
}
