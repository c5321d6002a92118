package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Additive attention gate of Attention U-Net (Oktay et al. 2018), at the skip's resolution:
 * {@code psi = sigmoid(BN(conv1x1(ReLU(BN(W_g g) + BN(W_x x)))))}, {@code out = x * psi}. Children
 * {@code w_g, w_g_bn, w_x, w_x_bn, psi, psi_bn}; 1x1 convolutions with bias.
 */
public final class AttentionGate extends Module {
    private final int channels;
    private final Conv2d wg;
    private final BatchNorm2d wgBn;
    private final Conv2d wx;
    private final BatchNorm2d wxBn;
    private final Conv2d psi;
    private final BatchNorm2d psiBn;
    private Tensor x;
    private Tensor sum;
    private Tensor gate;
    private Tensor dg;

    /**
     * @param gateChannels channels of the gating signal g
     * @param channels channels of the skip x (kept)
     * @param inner channels of the hidden sum
     */
    public AttentionGate(Backend backend, int gateChannels, int channels, int inner) {
        super(backend);
        this.channels = channels;
        wg = child("w_g", new Conv2d(backend, Conv2dSpec.same(gateChannels, inner, 1, 1, 1, true)));
        wgBn = child("w_g_bn", new BatchNorm2d(backend, inner, Activation.NONE));
        wx = child("w_x", new Conv2d(backend, Conv2dSpec.same(channels, inner, 1, 1, 1, true)));
        wxBn = child("w_x_bn", new BatchNorm2d(backend, inner, Activation.NONE));
        psi = child("psi", new Conv2d(backend, Conv2dSpec.same(inner, 1, 1, 1, 1, true)));
        psiBn = child("psi_bn", new BatchNorm2d(backend, 1, Activation.NONE));
    }

    /** @param g gating signal, NHWC at x's size; @param skip the skip features x */
    public Tensor forward(Tensor g, Tensor skip) {
        expectNhwc(skip, channels);
        x = skip;
        Tensor a = wgBn.forward(wg.forward(g));
        Tensor b = wxBn.forward(wx.forward(skip));
        sum = scratch("sum", Layout.NHWC, a.shape());
        backend.add(a, b, sum);
        backend.activationForward(Activation.RELU, sum, sum);
        int[] s = skip.shape();
        gate = scratch("gate", Layout.NHWC, s[0], s[1], s[2], 1);
        backend.activationForward(Activation.SIGMOID, psiBn.forward(psi.forward(sum)), gate);
        Tensor out = scratch("out", Layout.NHWC, s);
        backend.mulForward(skip, gate, out);
        return out;
    }

    /** Returns d loss / d skip; {@link #gateGrad()} then holds d loss / d g. */
    public Tensor backward(Tensor dOut) {
        Tensor dx = scratch("dx", Layout.NHWC, x.shape());
        Tensor dGate = scratch("dGate", Layout.NHWC, gate.shape());
        backend.mulBackward(dOut, x, gate, dx, dGate);
        backend.activationBackward(Activation.SIGMOID, null, gate, dGate, dGate);
        Tensor dSum = psi.backward(psiBn.backward(dGate));
        Tensor dPre = scratch("dPre", Layout.NHWC, sum.shape());
        backend.activationBackward(Activation.RELU, sum, sum, dSum, dPre);
        dg = wg.backward(wgBn.backward(dPre));
        backend.addInPlace(dx, wx.backward(wxBn.backward(dPre)));
        return dx;
    }

    public Tensor gateGrad() {
        return dg;
    }
}
