package org.arunet.nn;

import org.arunet.backend.Backend;
import org.arunet.tensor.Layout;
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
    private Tensor dx;
    private Tensor dSkip;

    public Decoder(Backend backend, int in, int out, boolean withMcsa, ChannelAttention.Kind caKind) {
        super(backend);
        this.in = in;
        this.out = out;
        this.up = child("up", new CBR(backend, in, out, true, true));
        this.mcsa = withMcsa ? child("mcsa", new MCSA(backend, out)) : null;
        this.ca = caKind == ChannelAttention.Kind.NONE ? null
                : child("ca", new ChannelAttention(backend, 2 * out, 16, caKind));
        this.fuse = child("fuse", new CBR(backend, 2 * out, out, true));
    }

    /**
     * @param input NHWC {@code [N, H, W, in]}
     * @param skip NHWC {@code [N, 2H, 2W, out]}
     */
    public Tensor forward(Tensor input, Tensor skip) {
        expectNhwc(input, in);
        int[] s = input.shape();
        expect(skip != null && skip.rank() == 4 && skip.hasShape(s[0], 2 * s[1], 2 * s[2], out), "skip", skip,
                "[" + s[0] + ", " + 2 * s[1] + ", " + 2 * s[2] + ", " + out + "] for input " + input.describe());
        x = input;
        Tensor u = up.forward(input);
        if (mcsa != null) {
            u = mcsa.forward(u);
        }
        Tensor z = scratch("z", Layout.NHWC, s[0], 2 * s[1], 2 * s[2], 2 * out);
        backend.concatChannels(u, skip, z);
        if (ca != null) {
            z = ca.forward(z);
        }
        return fuse.forward(z);
    }

    /** Writes parameter gradients; afterwards {@link #inputGrad()} and {@link #skipGrad()} hold the input gradients. */
    public void backward(Tensor dOut) {
        Tensor dz = fuse.backward(dOut);
        if (ca != null) {
            dz = ca.backward(dz);
        }
        int[] s = dz.shape();
        Tensor du = scratch("du", Layout.NHWC, s[0], s[1], s[2], out);
        dSkip = scratch("dSkip", Layout.NHWC, s[0], s[1], s[2], out);
        backend.splitChannels(dz, du, dSkip);
        if (mcsa != null) {
            du = mcsa.backward(du);
        }
        dx = up.backward(du);
    }

    /**
     * Inference: the upsampling CBR, MCSA, channel attention on the two halves of the concatenation
     * and the fusion CBR reading them as two input blocks: the concatenation is never built. The
     * result comes from the pool; input and skip stay the caller's.
     */
    public Tensor infer(Tensor input, Tensor skip, ActivationPool pool) {
        expectNhwc(input, in);
        int[] s = input.shape();
        expect(skip != null && skip.rank() == 4 && skip.hasShape(s[0], 2 * s[1], 2 * s[2], out), "skip", skip,
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
