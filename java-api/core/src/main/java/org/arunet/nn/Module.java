package org.arunet.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Base of every layer, block and network.
 *
 * <p>A module owns its parameters (with gradients), its buffers (BatchNorm running statistics) and
 * its activation memory: outputs and gradients it computes are kept in per-module scratch tensors
 * allocated on the first call for a given shape and reused afterwards, so a steady loop of forward
 * and backward passes allocates nothing. Tensors returned by {@code forward}/{@code backward} belong
 * to the module and stay valid until its next call; inputs are referenced, not copied, and must not
 * change between a forward pass and its backward pass. {@link #close()} frees everything at once.
 *
 * <p>Gradient memory: with a {@linkplain #useGradientPool gradient pool} (a network sets one on
 * itself), the tensors a backward pass computes come from that pool instead of the modules' scratch:
 * {@code backward} returns a pooled gradient that its caller releases ({@link #done}) once consumed,
 * and every temporary is released before {@code backward} returns, so the memory held is the largest
 * set of gradients alive at once. Without a pool (a module used on its own) gradients live in the
 * module's scratch as activations do, and {@link #done} does nothing.
 *
 * <p>Names follow PyTorch's {@code state_dict}: a child registered as "enc2" whose child "block" has a
 * parameter "weight" yields {@code enc2.block.weight}.
 */
public abstract class Module implements AutoCloseable {
    protected final Backend backend;
    private final LinkedHashMap<String, Parameter> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();
    private final LinkedHashMap<String, Module> children = new LinkedHashMap<>();
    private final Map<String, Tensor> scratch = new HashMap<>();
    private String path = getClass().getSimpleName();
    private ActivationPool gradients;
    protected boolean training = true;

    protected Module(Backend backend) {
        this.backend = backend;
    }

    public Backend backend() {
        return backend;
    }

    /** Dotted path of this module inside the network ("dec3.mcsa.p"), or its class name at the top. */
    public String path() {
        return path;
    }

    // ------------------------------------------------------------------ registration

    protected Parameter parameter(String name, Layout layout, int... shape) {
        Tensor v = backend.allocate(DType.F32, layout, shape);
        Tensor g = backend.allocate(DType.F32, layout, shape);
        Parameter p = new Parameter(name, v, g);
        params.put(name, p);
        return p;
    }

    protected Tensor buffer(String name, DType dtype, Layout layout, int... shape) {
        Tensor t = dtype == DType.F32 ? backend.allocate(dtype, layout, shape) : Tensor.host(dtype, layout, shape);
        buffers.put(name, t);
        return t;
    }

    protected <M extends Module> M child(String name, M module) {
        children.put(name, module);
        ((Module) module).setPath(root ? name : path + "." + name);
        return module;
    }

    /** True until this module is registered as another module's child. */
    private boolean root = true;

    private void setPath(String p) {
        root = false;
        path = p;
        for (Map.Entry<String, Module> e : children.entrySet()) {
            e.getValue().setPath(p + "." + e.getKey());
        }
    }

    // ------------------------------------------------------------------ scratch memory

    /**
     * A module-owned NHWC/plain F32 tensor named {@code key}, reallocated only when the shape changes.
     * Its contents are whatever the last use left (callers overwrite it).
     */
    protected Tensor scratch(String key, Layout layout, int... shape) {
        Tensor t = scratch.get(key);
        if (t != null && t.hasShape(shape) && t.layout() == layout) {
            return t;
        }
        if (t != null) {
            t.close();
        }
        t = backend.allocate(DType.F32, layout, shape);
        scratch.put(key, t);
        return t;
    }

    /**
     * Takes the backward temporaries of this module and its descendants from {@code pool} (null:
     * back to the modules' scratch). The caller owns the pool.
     */
    public void useGradientPool(ActivationPool pool) {
        gradients = pool;
        for (Module c : children.values()) {
            c.useGradientPool(pool);
        }
    }

    /** A gradient tensor: from the gradient pool if there is one, else this module's scratch {@code key}. */
    protected Tensor grad(String key, Layout layout, int... shape) {
        return gradients != null ? gradients.acquire(layout, shape) : scratch(key, layout, shape);
    }

    /** An NHWC gradient tensor, see {@link #grad(String, Layout, int...)}. */
    protected Tensor grad(String key, int... nhwc) {
        return grad(key, Layout.NHWC, nhwc);
    }

    /**
     * Gives a gradient back to the pool once consumed; tensors the pool did not lend (scratch, a
     * caller's input, null) are left alone.
     */
    public void done(Tensor t) {
        if (gradients != null && gradients.lends(t)) {
            gradients.release(t);
        }
    }

    /** Bytes of this module's own scratch tensors (children not included). */
    public long ownScratchBytes() {
        long b = 0;
        for (Tensor t : scratch.values()) {
            b += t.bytes();
        }
        return b;
    }

    /** Bytes of the scratch tensors of this module and its descendants (activations and their gradients). */
    public long activationBytes() {
        long b = ownScratchBytes();
        for (Module c : children.values()) {
            b += c.activationBytes();
        }
        return b;
    }

    /** Scratch keys and bytes of this module (diagnostics). */
    public Map<String, Long> scratchSizes() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : scratch.entrySet()) {
            m.put(e.getKey(), e.getValue().bytes());
        }
        return m;
    }

    /** Frees the activation memory of this module and its children (parameters stay). */
    public void releaseActivations() {
        for (Tensor t : scratch.values()) {
            t.close();
        }
        scratch.clear();
        for (Module c : children.values()) {
            c.releaseActivations();
        }
    }

    // ------------------------------------------------------------------ traversal

    /** All parameters, recursively, with their full dotted names, in registration order. */
    public Map<String, Parameter> namedParameters() {
        LinkedHashMap<String, Parameter> out = new LinkedHashMap<>();
        collectParams("", out);
        return out;
    }

    private void collectParams(String prefix, Map<String, Parameter> out) {
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Module> e : children.entrySet()) {
            e.getValue().collectParams(prefix + e.getKey() + ".", out);
        }
    }

    /** This module and all its descendants, depth first, parents before children. */
    public List<Module> modules() {
        List<Module> out = new ArrayList<>();
        out.add(this);
        for (Module c : children.values()) {
            out.addAll(c.modules());
        }
        return out;
    }

    public List<Parameter> parameters() {
        return new ArrayList<>(namedParameters().values());
    }

    /** Number of trainable scalars. */
    public long parameterCount() {
        long n = 0;
        for (Parameter p : namedParameters().values()) {
            n += p.value().numel();
        }
        return n;
    }

    /**
     * Parameters and buffers by full name, in PyTorch's {@code state_dict} order (a module's own
     * parameters, then its buffers, then its children). The tensors are the live ones, not copies.
     */
    public Map<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collectState("", out);
        return Collections.unmodifiableMap(out);
    }

    private void collectState(String prefix, Map<String, Tensor> out) {
        for (Map.Entry<String, Parameter> e : params.entrySet()) {
            out.put(prefix + e.getKey(), e.getValue().value());
        }
        for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
            out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Module> e : children.entrySet()) {
            e.getValue().collectState(prefix + e.getKey() + ".", out);
        }
    }

    /**
     * Copies values into this module's parameters and buffers by name. Every tensor of the module must
     * be present with the same shape; with {@code strict}, no extra names may be given.
     *
     * @throws IllegalArgumentException listing missing, unexpected or mis-shaped entries
     */
    public void loadStateDict(Map<String, Tensor> source, boolean strict) {
        Map<String, Tensor> mine = stateDict();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            Tensor src = source.get(e.getKey());
            if (src == null) {
                problems.add("missing " + e.getKey());
            } else if (src.numel() != e.getValue().numel()
                    || src.dtype() != e.getValue().dtype()
                    || !shapeCompatible(src.shape(), e.getValue().shape())) {
                problems.add(e.getKey() + ": expected " + e.getValue().describe() + ", got " + src.describe());
            }
        }
        if (strict) {
            for (String k : source.keySet()) {
                if (!mine.containsKey(k)) {
                    problems.add("unexpected " + k);
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(path + ": state does not fit the model: "
                    + String.join("; ", problems.subList(0, Math.min(problems.size(), 12)))
                    + (problems.size() > 12 ? "; ... " + (problems.size() - 12) + " more" : ""));
        }
        for (Map.Entry<String, Tensor> e : mine.entrySet()) {
            e.getValue().copyFrom(source.get(e.getKey()));
        }
    }

    /** Same dims, or a scalar stored as [1] vs [] (PyTorch's num_batches_tracked is 0-d). */
    private static boolean shapeCompatible(int[] a, int[] b) {
        if (Arrays.equals(a, b)) {
            return true;
        }
        return Tensor.numel(a) == 1 && Tensor.numel(b) == 1 && a.length <= 1 && b.length <= 1;
    }

    // ------------------------------------------------------------------ modes

    /** Training mode: BatchNorm uses batch statistics and updates its running ones. */
    public Module train(boolean on) {
        training = on;
        for (Module c : children.values()) {
            c.train(on);
        }
        return this;
    }

    public Module eval() {
        return train(false);
    }

    public boolean isTraining() {
        return training;
    }

    // ------------------------------------------------------------------ checks

    /** Throws naming this module when an input's shape is not as expected. */
    protected void expect(boolean ok, String what, Tensor actual, String expected) {
        if (!ok) {
            throw new IllegalArgumentException(path + ": " + what + " must be " + expected + ", got "
                    + (actual == null ? "null" : actual.describe()));
        }
    }

    /** Input must be NHWC rank 4 with the given channel count. */
    protected void expectNhwc(Tensor x, int channels) {
        expect(
                x != null
                        && x.rank() == 4
                        && x.layout() == Layout.NHWC
                        && x.dtype() == DType.F32
                        && x.dim(3) == channels,
                "input",
                x,
                "NHWC [N, H, W, " + channels + "] F32");
    }

    @Override
    public void close() {
        releaseActivations();
        for (Parameter p : params.values()) {
            p.close();
        }
        for (Tensor t : buffers.values()) {
            t.close();
        }
        for (Module c : children.values()) {
            c.close();
        }
    }
}
