package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Multi-convolution self-attention (MCSA), C channels kept:
 * <pre>
 *   p = BN(conv1x1(x))   o = BN(conv3x3(x))   d = BN(conv3x3 dilation 2(x))      (all C -> C, bias)
 *   g = sigmoid(BN(conv1x1(2C -> C)(ReLU(cat[p, o]))))
 *   out = x + d * g
 * </pre>
 * Children {@code p, p_bn, o, o_bn, d, d_bn, g, g_bn}. {@code ReLU(cat[p, o])} is computed as
 * {@code cat[ReLU(p), ReLU(o)]} with the ReLU fused into {@code p_bn} and {@code o_bn}; g reads the two
 * halves as separate input blocks ({@link Conv2d#forwardSplit}): the concatenation is never built.
 */
public final class MCSA extends Module {
    private final int c;
    private final Conv2d p;
    private final BatchNorm2d pBn;
    private final Conv2d o;
    private final BatchNorm2d oBn;
    private final Conv2d d;
    private final BatchNorm2d dBn;
    private final Conv2d g;
    private final BatchNorm2d gBn;
    private Tensor dv;
    private Tensor gate;
    private Tensor pv;
    private Tensor ov;

    public MCSA(Backend backend, int channels) {
        super(backend);
        this.c = channels;
        this.p = child("p", new Conv2d(backend, Conv2dSpec.same(c, c, 1, 1, 1, true)));
        this.pBn = child("p_bn", new BatchNorm2d(backend, c, Activation.RELU));
        this.o = child("o", new Conv2d(backend, Conv2dSpec.same(c, c, 3, 1, 1, true)));
        this.oBn = child("o_bn", new BatchNorm2d(backend, c, Activation.RELU));
        this.d = child("d", new Conv2d(backend, Conv2dSpec.same(c, c, 3, 2, 1, true)));
        this.dBn = child("d_bn", new BatchNorm2d(backend, c, Activation.NONE));
        this.g = child("g", new Conv2d(backend, Conv2dSpec.same(2 * c, c, 1, 1, 1, true)));
        this.gBn = child("g_bn", new BatchNorm2d(backend, c, Activation.NONE));
    }

    /**
     * Inference in four convolutions and no other pass: p and o with their batch norms and ReLUs
     * fused; g reads [p, o] as two input blocks (no concatenation) with its batch norm and sigmoid;
     * d's epilogue computes {@code x + bn(d) * g}.
     */
    public Tensor infer(Tensor x, ActivationPool pool) {
        expectNhwc(x, c);
        Tensor pv = p.infer(x, pool, pBn.appendTo(ConvEpilogue.builder()).build());
        Tensor ov = o.infer(x, pool, oBn.appendTo(ConvEpilogue.builder()).build());
        Tensor gv = pool.acquire(x.shape());
        g.inferInto(
                pv,
                ov,
                gv,
                gBn.appendTo(ConvEpilogue.builder()).act(Activation.SIGMOID).build());
        pool.release(pv);
        pool.release(ov);
        Tensor out = pool.acquire(x.shape());
        d.inferInto(
                x,
                null,
                out,
                dBn.appendTo(ConvEpilogue.builder()).mul(gv).add(x).build());
        pool.release(gv);
        return out;
    }

    public Tensor forward(Tensor x) {
        expectNhwc(x, c);
        int[] s = x.shape();
        pv = pBn.forward(p.forward(x));
        ov = oBn.forward(o.forward(x));
        // the sigmoid runs in place on g_bn's output, which its backward does not read (no ReLU)
        gate = gBn.forward(g.forwardSplit(pv, ov));
        backend.activationForward(Activation.SIGMOID, gate, gate);
        dv = dBn.forward(d.forward(x));
        Tensor out = scratch("out", Layout.NHWC, s);
        backend.mulForward(dv, gate, out);
        backend.addInPlace(out, x);
        return out;
    }

    public Tensor backward(Tensor dOut) {
        int[] s = dOut.shape();
        Tensor dD = grad("dD", s);
        Tensor dGate = grad("dGate", s);
        backend.mulBackward(dOut, dv, gate, dD, dGate);
        backend.activationBackward(Activation.SIGMOID, null, gate, dGate, dGate);
        // the d branch first: its gradients die before the gate branch makes two more
        Tensor t = dBn.backward(dD);
        done(dD);
        Tensor dx = d.backward(t);
        done(t);
        backend.addInPlace(dx, dOut);
        t = gBn.backward(dGate);
        done(dGate);
        Tensor[] dPo = g.backwardSplit(t, pv, ov);
        done(t);
        accumulate(dx, p, pBn, dPo[0]);
        accumulate(dx, o, oBn, dPo[1]);
        return dx;
    }

    /** dx += conv.backward(bn.backward(dy)), releasing dy and the temporaries. */
    private void accumulate(Tensor dx, Conv2d conv, BatchNorm2d bn, Tensor dy) {
        Tensor t = bn.backward(dy);
        done(dy);
        Tensor u = conv.backward(t);
        done(t);
        backend.addInPlace(dx, u);
        done(u);
    }
}
