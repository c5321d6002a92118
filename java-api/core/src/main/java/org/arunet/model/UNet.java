package org.arunet.model;

import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.nn.AttentionGate;
import org.arunet.nn.CBR;
import org.arunet.nn.Conv2d;
import org.arunet.nn.DoubleConv;
import org.arunet.nn.Init;
import org.arunet.nn.Module;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * The baselines the paper compares against, built from the same layers as ARU-Net:
 * <ul>
 *   <li><b>U-Net</b> (Ronneberger et al. 2015), padded, with BatchNorm: double 3x3 conv-BN-ReLU blocks at
 *       widths w, 2w, 4w, 8w, 16w; 2x2 max pooling; decoder stages "up-convolution" (nearest 2x
 *       upsampling then conv3x3-BN-ReLU halving the channels, as ARU-Net's decoder), concatenation
 *       {@code [up, skip]}, double conv; 1x1 head.
 *   <li><b>Attention U-Net</b> (Oktay et al. 2018): the same, with an additive {@link AttentionGate}
 *       on each skip connection, gated by the upsampled decoder features (inner channels = half the
 *       skip's).
 * </ul>
 * Input sizes must be multiples of 16. Parameter names: {@code enc1.a.conv.weight},
 * {@code dec4.up.conv.weight}, {@code dec4.gate.psi.weight}, {@code dec4.conv.b.bn.bias}, {@code head.weight}.
 */
public final class UNet extends SegmentationModel {
    private final int inChannels;
    private final int classes;
    private final int width;
    private final boolean attention;
    private final DoubleConv[] enc = new DoubleConv[5];
    private final Stage[] dec = new Stage[4];
    private final Conv2d head;
    private final Tensor[] pooled = new Tensor[5];
    private final Tensor[] feats = new Tensor[5];

    public UNet(
            Backend backend, int inChannels, int classes, int width, boolean attention, Init.Scheme init, long seed) {
        super(backend);
        if (inChannels < 1 || classes < 2 || width < 1) {
            throw new IllegalArgumentException((attention ? "Attention U-Net" : "U-Net") + ": invalid in_channels="
                    + inChannels + ", classes=" + classes + ", width=" + width);
        }
        this.inChannels = inChannels;
        this.classes = classes;
        this.width = width;
        this.attention = attention;
        int[] c = {width, 2 * width, 4 * width, 8 * width, 16 * width};
        enc[0] = child("enc1", new DoubleConv(backend, inChannels, c[0]));
        for (int i = 1; i < 5; i++) {
            enc[i] = child("enc" + (i + 1), new DoubleConv(backend, c[i - 1], c[i]));
        }
        for (int lvl = 3; lvl >= 0; lvl--) {
            dec[lvl] = child("dec" + (lvl + 1), new Stage(backend, c[lvl + 1], c[lvl], attention));
        }
        head = child("head", new Conv2d(backend, Conv2dSpec.same(c[0], classes, 1, 1, 1, true)));
        Init.apply(this, init, seed);
    }

    /** Builds from {@link #architecture()}. */
    static UNet fromMap(Map<String, String> m, Backend backend, Init.Scheme init, long seed) {
        boolean att = "attention-unet".equals(m.get("arch"));
        try {
            return new UNet(
                    backend,
                    Integer.parseInt(m.getOrDefault("in_channels", "3")),
                    Integer.parseInt(m.getOrDefault("classes", "2")),
                    Integer.parseInt(m.getOrDefault("width", "64")),
                    att,
                    init,
                    seed);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid U-Net configuration " + m + ": " + e.getMessage(), e);
        }
    }

    @Override
    public int inChannels() {
        return inChannels;
    }

    @Override
    public int classes() {
        return classes;
    }

    @Override
    public int sizeMultiple() {
        return 16;
    }

    @Override
    public Map<String, String> architecture() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("arch", attention ? "attention-unet" : "unet");
        m.put("in_channels", Integer.toString(inChannels));
        m.put("classes", Integer.toString(classes));
        m.put("width", Integer.toString(width));
        return m;
    }

    @Override
    public Tensor forward(Tensor x) {
        String what = "NHWC F32 [N, H, W, " + inChannels + "] with H and W multiples of 16";
        if (x == null
                || x.rank() != 4
                || x.layout() != Layout.NHWC
                || x.dim(3) != inChannels
                || x.dim(1) % 16 != 0
                || x.dim(2) % 16 != 0
                || x.dim(1) == 0
                || x.dim(2) == 0) {
            throw new IllegalArgumentException(
                    path() + ": input must be " + what + ", got " + (x == null ? "null" : x.describe()));
        }
        Tensor z = x;
        for (int i = 0; i < 5; i++) {
            if (i > 0) {
                int[] s = z.shape();
                pooled[i] = scratch("pool" + i, Layout.NHWC, s[0], s[1] / 2, s[2] / 2, s[3]);
                backend.maxPoolForward(z, pooled[i], 2, 2, 0);
                z = pooled[i];
            }
            feats[i] = enc[i].forward(z);
            z = feats[i];
        }
        for (int lvl = 3; lvl >= 0; lvl--) {
            z = dec[lvl].forward(z, feats[lvl]);
        }
        return head.forward(z);
    }

    @Override
    public void backward(Tensor dLogits) {
        Tensor d = head.backward(dLogits);
        for (int lvl = 0; lvl <= 3; lvl++) {
            dec[lvl].backward(d);
            d = dec[lvl].inputGrad;
        }
        for (int i = 4; i >= 0; i--) {
            if (i < 4) {
                backend.addInPlace(d, dec[i].skipGrad);
            }
            Tensor dIn = enc[i].backward(d, i > 0);
            if (i > 0) {
                Tensor dPrev = scratch("dfeat" + (i - 1), Layout.NHWC, feats[i - 1].shape());
                backend.maxPoolBackward(feats[i - 1], dIn, dPrev, 2, 2, 0);
                d = dPrev;
            }
        }
    }

    @Override
    public long macs(int height, int width) {
        long total = 0;
        for (Module m : modules()) {
            if (m instanceof Conv2d conv) {
                String top = m.path().split("\\.")[0];
                int level = top.equals("head") ? 0 : Integer.parseInt(top.substring(3)) - 1;
                int h = height >> level;
                int w = width >> level;
                total += conv.spec().macs(conv.spec().outH(h), conv.spec().outW(w));
            }
        }
        return total;
    }

    /** One decoder stage: up-convolution, optional attention gate on the skip, concatenation, double conv. */
    private static final class Stage extends Module {
        private final int in;
        private final int out;
        private final CBR up;
        private final AttentionGate gate;
        private final DoubleConv conv;
        private Tensor x;
        Tensor inputGrad;
        Tensor skipGrad;

        Stage(Backend backend, int in, int out, boolean attention) {
            super(backend);
            this.in = in;
            this.out = out;
            up = child("up", new CBR(backend, in, out, true));
            gate = attention ? child("gate", new AttentionGate(backend, out, out, Math.max(1, out / 2))) : null;
            conv = child("conv", new DoubleConv(backend, 2 * out, out));
        }

        Tensor forward(Tensor input, Tensor skip) {
            expectNhwc(input, in);
            x = input;
            int[] s = input.shape();
            Tensor upx = scratch("upx", Layout.NHWC, s[0], 2 * s[1], 2 * s[2], in);
            backend.upsample2xForward(input, upx);
            Tensor u = up.forward(upx);
            Tensor sk = gate == null ? skip : gate.forward(u, skip);
            Tensor z = scratch("z", Layout.NHWC, s[0], 2 * s[1], 2 * s[2], 2 * out);
            backend.concatChannels(u, sk, z);
            return conv.forward(z);
        }

        void backward(Tensor dOut) {
            Tensor dz = conv.backward(dOut);
            int[] s = dz.shape();
            Tensor du = scratch("du", Layout.NHWC, s[0], s[1], s[2], out);
            Tensor dsk = scratch("dsk", Layout.NHWC, s[0], s[1], s[2], out);
            backend.splitChannels(dz, du, dsk);
            if (gate != null) {
                skipGrad = gate.backward(dsk);
                backend.addInPlace(du, gate.gateGrad());
            } else {
                skipGrad = dsk;
            }
            Tensor dUpx = up.backward(du);
            inputGrad = scratch("dx", Layout.NHWC, x.shape());
            backend.upsample2xBackward(dUpx, inputGrad);
        }
    }
}
