package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.tensor.Tensor;

/**
 * Decoder stage: {@code u = CBR(cin -> cout, bias)(up2(x))}, optionally {@code u = MCSA(u)};
 * {@code z = cat[u, skip]}, optionally {@code z = CA(z)}; {@code out = CBR(2 cout -> cout, bias)(z)}.
 * Children {@code up}, {@code mcsa}, {@code ca}, {@code fuse}. The upsampling is part of up's
 * convolution ({@link Conv2d#upsampling}): no upsampled tensor is built.
 */
public final class Decoder extends Module {
    private final int in;
    private final int out;
    private final CBR up;
    private final MCSA mcsa;
    private final ChannelAttention ca;
    private final CBR fuse;
    private Tensor x;
    private Tensor skip;
    private Tensor u;
    private Tensor dx;
    private Tensor dSkip;

    public Decoder(Backend backend, int in, int out, boolean withMcsa, ChannelAttention.Kind caKind) {
        super(backend);
        this.in = in;
        this.out = out;
        this.up = child("up", new CBR(backend, in, out, true, true));
        this.mcsa = withMcsa ? child("mcsa", new MCSA(backend, out)) : null;
        this.ca = caKind == ChannelAttention.Kind.NONE
                ? null
                : child("ca", new ChannelAttention(backend, 2 * out, 16, caKind));
        this.fuse = child("fuse", new CBR(backend, 2 * out, out, true));
    }

    /**
     * Training (or unfused eval) forward. The concatenation {@code cat[u, skip]} and the channel
     * attention's output are never built: the attention's weights are applied to u and skip into
     * transient tensors that the fusion convolution reads as two input blocks
     * ({@link CBR#forwardSplit}), and the backward pass recomputes them.
     *
     * @param input NHWC {@code [N, H, W, in]}
     * @param skip NHWC {@code [N, 2H, 2W, out]}
     */
    public Tensor forward(Tensor input, Tensor skip) {
        expectNhwc(input, in);
        int[] s = input.shape();
        expect(
                skip != null && skip.rank() == 4 && skip.hasShape(s[0], 2 * s[1], 2 * s[2], out),
                "skip",
                skip,
                "[" + s[0] + ", " + 2 * s[1] + ", " + 2 * s[2] + ", " + out + "] for input " + input.describe());
        x = input;
        this.skip = skip;
        u = up.forward(input);
        if (mcsa != null) {
            u = mcsa.forward(u);
        }
        if (ca == null) {
            return fuse.forwardSplit(u, skip);
        }
        ca.attendSplit(u, skip);
        Tensor us = grad("us", u.shape());
        Tensor ss = grad("ss", skip.shape());
        ca.applySplit(us, ss);
        Tensor y = fuse.forwardSplit(us, ss);
        done(us);
        done(ss);
        return y;
    }

    /**
     * Writes parameter gradients; afterwards {@link #inputGrad()} and {@link #skipGrad()} hold the input
     * gradients (with a gradient pool, the caller releases both with {@link #done}). A pooled
     * {@code dOut} is released as soon as it has been read for the last time.
     */
    public void backward(Tensor dOut) {
        Tensor du;
        if (ca == null) {
            Tensor[] d = fuse.backwardSplit(dOut, u, skip);
            done(dOut); // read for the last time (a pooled gradient goes back at once; the caller's release is then
            // a no-op)
            du = d[0];
            dSkip = d[1];
        } else {
            Tensor us = grad("us", u.shape());
            Tensor ss = grad("ss", skip.shape());
            ca.applySplit(us, ss);
            Tensor[] dz = fuse.backwardSplit(dOut, us, ss);
            done(dOut); // read for the last time (a pooled gradient goes back at once; the caller's release is then
            // a no-op)
            done(us);
            done(ss);
            Tensor[] d = ca.backwardSplit(dz[0], dz[1]);
            done(dz[0]);
            done(dz[1]);
            du = d[0];
            dSkip = d[1];
        }
        if (mcsa != null) {
            Tensor t = mcsa.backward(du);
            done(du);
            du = t;
        }
        dx = up.backward(du);
        done(du);
    }

    /**
     * Inference: the upsampling CBR, MCSA, channel attention on the two halves of the concatenation
     * and the fusion CBR reading them as two input blocks: the concatenation is never built. The
     * result comes from the pool; input and skip stay the caller's.
     */
    public Tensor infer(Tensor input, Tensor skip, ActivationPool pool) {
        expectNhwc(input, in);
        int[] s = input.shape();
        expect(
                skip != null && skip.rank() == 4 && skip.hasShape(s[0], 2 * s[1], 2 * s[2], out),
                "skip",
                skip,
                "[" + s[0] + ", " + 2 * s[1] + ", " + 2 * s[2] + ", " + out + "] for input " + input.describe());
        Tensor u = up.infer(input, pool);
        if (mcsa != null) {
            Tensor m = mcsa.infer(u, pool);
            pool.release(u);
            u = m;
        }
        Tensor zs = skip;
        if (ca != null) {
            Tensor[] z = ca.inferSplit(u, skip, pool);
            pool.release(u);
            u = z[0];
            zs = z[1];
        }
        Tensor y = pool.acquire(s[0], 2 * s[1], 2 * s[2], out);
        fuse.inferInto(u, zs, y);
        pool.release(u);
        if (zs != skip) {
            pool.release(zs);
        }
        return y;
    }

    public Tensor inputGrad() {
        return dx;
    }

    public Tensor skipGrad() {
        return dSkip;
    }
}
