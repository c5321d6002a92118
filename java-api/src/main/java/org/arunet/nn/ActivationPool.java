package org.arunet.nn;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Activation memory of inference passes, recycled as soon as a value is dead.
 *
 * <p>An inference pass (the modules' {@code infer} methods) takes every intermediate tensor from the
 * pool with {@link #acquire} and gives it back with {@link #release} once its last reader ran, so the
 * memory held is the largest set of values alive at once rather than the sum of all of them. A
 * request is served by the smallest free block that holds it (a view of the block's first elements),
 * else by a new block of exactly its size; blocks are never split or freed before {@link #close()}.
 * Passes of the same shapes make the same requests in the same order, so from the second pass on
 * nothing is allocated (and no fresh page is touched).
 *
 * <p>Tensors handed out are F32 views; using one after its release or after {@link #close()} is a
 * bug the pool cannot see (the memory is reused). Not thread-safe: one pass at a time.
 */
public final class ActivationPool implements AutoCloseable {
    private final Backend backend;
    private final List<Tensor> free = new ArrayList<>();
    private final Map<Tensor, Tensor> lent = new IdentityHashMap<>(); // view -> block
    private final List<Tensor> blocks = new ArrayList<>();
    private long bytes;

    public ActivationPool(Backend backend) {
        this.backend = backend;
    }

    /** An F32 tensor of this shape and layout whose contents are undefined. */
    public Tensor acquire(Layout layout, int... shape) {
        long numel = Tensor.numel(shape);
        Tensor best = null;
        for (Tensor b : free) {
            if (b.numel() >= numel && (best == null || b.numel() < best.numel())) {
                best = b;
            }
        }
        if (best == null) {
            best = backend.allocate(DType.F32, Layout.PLAIN, (int) Math.max(numel, 1));
            blocks.add(best);
            bytes += best.bytes();
        } else {
            free.remove(best);
        }
        Tensor view = best.slice(0, (int) numel).view(layout, shape);
        lent.put(view, best);
        return view;
    }

    /** An NHWC tensor {@code [N, H, W, C]}. */
    public Tensor acquire(int... nhwc) {
        return acquire(Layout.NHWC, nhwc);
    }

    /** Gives a tensor from {@link #acquire} back; null is ignored. */
    public void release(Tensor t) {
        if (t == null) {
            return;
        }
        Tensor block = lent.remove(t);
        if (block == null) {
            throw new IllegalArgumentException("ActivationPool.release: " + t.describe() + " is not lent by this pool");
        }
        free.add(block);
    }

    /** True when t is a tensor this pool lent and has not got back. */
    public boolean lends(Tensor t) {
        return t != null && lent.containsKey(t);
    }

    /** Bytes of all blocks (lent or free). */
    public long bytes() {
        return bytes;
    }

    /** Tensors acquired and not yet released. */
    public int lent() {
        return lent.size();
    }

    /** Frees every block; tensors still lent become invalid. */
    @Override
    public void close() {
        for (Tensor b : blocks) {
            b.close();
        }
        blocks.clear();
        free.clear();
        lent.clear();
        bytes = 0;
    }
}
