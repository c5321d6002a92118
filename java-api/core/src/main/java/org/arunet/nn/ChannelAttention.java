package org.arunet.nn;

import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * Channel attention over C channels, hidden size {@code h = max(1, C / ratio)}, FCs without bias.
 * <ul>
 *   <li>{@link Kind#PAPER} (the paper's text): {@code w = sigmoid(fc_out(fc_max(GMP x) * fc_avg(GAP x)))};
 *       children {@code fc_max, fc_avg, fc_out}.
 *   <li>{@link Kind#SE} (the authors' code, squeeze-excitation): {@code w = sigmoid(fc2(ReLU(fc1(GAP x))))};
 *       children {@code fc1, fc2}.
 * </ul>
 * {@code out = x * w} per image and channel.
 */
public final class ChannelAttention extends Module {
    /** Which form of channel attention. */
    public enum Kind {
        PAPER,
        SE,
        NONE
    }

    private final int c;
    private final int h;
    private final Kind kind;
    private final Linear fcMax;
    private final Linear fcAvg;
    private final Linear fcOut;
    private final Linear fc1;
    private final Linear fc2;
    private Tensor x;
    private Tensor xu;
    private Tensor xs;
    private Tensor vmax;
    private Tensor hMax;
    private Tensor hAvg;
    private Tensor hidden;
    private Tensor w;

    public ChannelAttention(Backend backend, int channels, int ratio, Kind kind) {
        super(backend);
        if (kind == Kind.NONE) {
            throw new IllegalArgumentException("ChannelAttention kind NONE means no module; do not build one");
        }
        this.c = channels;
        this.h = Math.max(1, channels / ratio);
        this.kind = kind;
        if (kind == Kind.PAPER) {
            fcMax = child("fc_max", new Linear(backend, c, h, false));
            fcAvg = child("fc_avg", new Linear(backend, c, h, false));
            fcOut = child("fc_out", new Linear(backend, h, c, false));
            fc1 = null;
            fc2 = null;
        } else {
            fc1 = child("fc1", new Linear(backend, c, h, false));
            fc2 = child("fc2", new Linear(backend, h, c, false));
            fcMax = null;
            fcAvg = null;
            fcOut = null;
        }
    }

    public Kind kind() {
        return kind;
    }

    /**
     * Inference on {@code z = cat[u, skip]} (channels) without building z: returns
     * {@code {u * w_u, skip * w_skip}} in tensors from the pool, {@code w = [w_u, w_skip]} this
     * module's weights for z. The small [N, C] intermediates live in the module's scratch.
     */
    public Tensor[] inferSplit(Tensor u, Tensor skip, ActivationPool pool) {
        attendSplit(u, skip);
        Tensor uo = pool.acquire(u.shape());
        Tensor so = pool.acquire(skip.shape());
        applySplit(uo, so);
        return new Tensor[] {uo, so};
    }

    /**
     * Forward on {@code z = cat[u, skip]} without building z, first half: computes this module's
     * weights {@code w = [w_u, w_skip]} for z and keeps what the backward pass needs (u and skip by
     * reference: they must not change until {@link #backwardSplit}).
     */
    public void attendSplit(Tensor u, Tensor skip) {
        expect(
                u != null
                        && skip != null
                        && u.rank() == 4
                        && skip.rank() == 4
                        && u.dim(3) + skip.dim(3) == c
                        && u.dim(0) == skip.dim(0)
                        && u.dim(1) == skip.dim(1)
                        && u.dim(2) == skip.dim(2),
                "inputs",
                u,
                "two NHWC blocks of " + c + " channels together, same N, H, W");
        xu = u;
        xs = skip;
        int n = u.dim(0);
        int cu = u.dim(3);
        int cs = skip.dim(3);
        Tensor avg = scratch("avg", Layout.PLAIN, n, c);
        Tensor v;
        if (kind == Kind.PAPER) {
            vmax = scratch("vmax", Layout.PLAIN, n, c);
            globalPools(u, skip, vmax, avg);
            hMax = fcMax.forward(vmax);
            hAvg = fcAvg.forward(avg);
            hidden = scratch("hidden", Layout.PLAIN, n, h);
            backend.mulForward(hMax, hAvg, hidden);
            v = fcOut.forward(hidden);
        } else {
            globalPools(u, skip, null, avg);
            Tensor z = fc1.forward(avg);
            hidden = scratch("hidden", Layout.PLAIN, n, h);
            backend.activationForward(Activation.RELU, z, hidden);
            v = fc2.forward(hidden);
        }
        w = scratch("w", Layout.PLAIN, n, c);
        backend.activationForward(Activation.SIGMOID, v, w);
        Tensor wu = scratch("wu", Layout.PLAIN, n, cu);
        Tensor ws = scratch("ws", Layout.PLAIN, n, cs);
        backend.splitChannels(
                w.view(Layout.NHWC, n, 1, 1, c), wu.view(Layout.NHWC, n, 1, 1, cu), ws.view(Layout.NHWC, n, 1, 1, cs));
    }

    /**
     * Second half: {@code uOut = u * w_u}, {@code skipOut = skip * w_skip} with the weights of the
     * last {@link #attendSplit} (callable again in the backward pass to recompute them).
     */
    public void applySplit(Tensor uOut, Tensor skipOut) {
        int n = xu.dim(0);
        backend.mulForward(xu, scratch("wu", Layout.PLAIN, n, xu.dim(3)), uOut);
        backend.mulForward(xs, scratch("ws", Layout.PLAIN, n, xs.dim(3)), skipOut);
    }

    /**
     * Backward of {@link #attendSplit} + {@link #applySplit} given the gradients of both outputs:
     * returns {@code {du, dskip}} (gradients the caller releases with {@link #done}).
     */
    public Tensor[] backwardSplit(Tensor dUOut, Tensor dSkipOut) {
        int n = xu.dim(0);
        int cu = xu.dim(3);
        int cs = xs.dim(3);
        Tensor du = grad("du", xu.shape());
        Tensor dwu = scratch("dwu", Layout.PLAIN, n, cu);
        backend.mulBackward(dUOut, xu, scratch("wu", Layout.PLAIN, n, cu), du, dwu);
        Tensor ds = grad("ds", xs.shape());
        Tensor dws = scratch("dws", Layout.PLAIN, n, cs);
        backend.mulBackward(dSkipOut, xs, scratch("ws", Layout.PLAIN, n, cs), ds, dws);
        Tensor dw = scratch("dw", Layout.PLAIN, n, c);
        backend.concatChannels(
                dwu.view(Layout.NHWC, n, 1, 1, cu),
                dws.view(Layout.NHWC, n, 1, 1, cs),
                dw.view(Layout.NHWC, n, 1, 1, c));
        backend.activationBackward(Activation.SIGMOID, null, w, dw, dw);
        Tensor dMax = null;
        Tensor dAvg;
        if (kind == Kind.PAPER) {
            Tensor dHidden = fcOut.backward(dw);
            Tensor dhMax = scratch("dhMax", Layout.PLAIN, n, h);
            Tensor dhAvg = scratch("dhAvg", Layout.PLAIN, n, h);
            backend.mulBackward(dHidden, hMax, hAvg, dhMax, dhAvg);
            dMax = fcMax.backward(dhMax);
            dAvg = fcAvg.backward(dhAvg);
        } else {
            Tensor dHidden = fc2.backward(dw);
            Tensor dz = scratch("dz", Layout.PLAIN, n, h);
            backend.activationBackward(Activation.RELU, hidden, hidden, dHidden, dz);
            dAvg = fc1.backward(dz);
        }
        poolBackward(xu, dMax, dAvg, 0, du, "u");
        poolBackward(xs, dMax, dAvg, cu, ds, "s");
        return new Tensor[] {du, ds};
    }

    /** dx += the global pools' backward for channel block [c0, c0 + C_x) of dMax (or null) and dAvg. */
    private void poolBackward(Tensor x, Tensor dMax, Tensor dAvg, int c0, Tensor dx, String part) {
        int n = x.dim(0);
        int cx = x.dim(3);
        Tensor dm = null;
        if (dMax != null) {
            dm = scratch("dm" + part, Layout.PLAIN, n, cx);
            block(dMax, c0, dm, part);
        }
        Tensor da = scratch("da" + part, Layout.PLAIN, n, cx);
        block(dAvg, c0, da, part);
        Tensor dx2 = grad("dx2", x.shape());
        backend.globalPoolBackward(x, dMax == null ? null : scratch("m" + part, Layout.PLAIN, n, cx), dm, da, dx2);
        backend.addInPlace(dx, dx2);
        done(dx2);
    }

    /** out [N, C_out] = src [N, C][:, c0 : c0 + C_out]. */
    private void block(Tensor src, int c0, Tensor out, String part) {
        int n = src.dim(0);
        int co = out.dim(1);
        Tensor rest = scratch("rest" + part, Layout.PLAIN, n, c - co);
        if (c0 == 0) {
            backend.splitChannels(
                    src.view(Layout.NHWC, n, 1, 1, c),
                    out.view(Layout.NHWC, n, 1, 1, co),
                    rest.view(Layout.NHWC, n, 1, 1, c - co));
        } else {
            backend.splitChannels(
                    src.view(Layout.NHWC, n, 1, 1, c),
                    rest.view(Layout.NHWC, n, 1, 1, c - co),
                    out.view(Layout.NHWC, n, 1, 1, co));
        }
    }

    /** Global max (unless null) and mean of cat[u, skip] per image and channel, [N, C] each. */
    private void globalPools(Tensor u, Tensor skip, Tensor max, Tensor avg) {
        int n = u.dim(0);
        int cu = u.dim(3);
        int cs = skip.dim(3);
        Tensor mu = max == null ? null : scratch("mu", Layout.PLAIN, n, cu);
        Tensor ms = max == null ? null : scratch("ms", Layout.PLAIN, n, cs);
        Tensor au = scratch("au", Layout.PLAIN, n, cu);
        Tensor as = scratch("as", Layout.PLAIN, n, cs);
        backend.globalPoolForward(u, mu, au);
        backend.globalPoolForward(skip, ms, as);
        if (max != null) {
            backend.concatChannels(
                    mu.view(Layout.NHWC, n, 1, 1, cu),
                    ms.view(Layout.NHWC, n, 1, 1, cs),
                    max.view(Layout.NHWC, n, 1, 1, c));
        }
        backend.concatChannels(
                au.view(Layout.NHWC, n, 1, 1, cu),
                as.view(Layout.NHWC, n, 1, 1, cs),
                avg.view(Layout.NHWC, n, 1, 1, c));
    }

    public Tensor forward(Tensor input) {
        expectNhwc(input, c);
        x = input;
        int n = input.dim(0);
        Tensor avg = scratch("avg", Layout.PLAIN, n, c);
        Tensor v;
        if (kind == Kind.PAPER) {
            vmax = scratch("vmax", Layout.PLAIN, n, c);
            backend.globalPoolForward(input, vmax, avg);
            hMax = fcMax.forward(vmax);
            hAvg = fcAvg.forward(avg);
            hidden = scratch("hidden", Layout.PLAIN, n, h);
            backend.mulForward(hMax, hAvg, hidden);
            v = fcOut.forward(hidden);
        } else {
            backend.globalPoolForward(input, null, avg);
            Tensor z = fc1.forward(avg);
            hidden = scratch("hidden", Layout.PLAIN, n, h);
            backend.activationForward(Activation.RELU, z, hidden);
            v = fc2.forward(hidden);
        }
        w = scratch("w", Layout.PLAIN, n, c);
        backend.activationForward(Activation.SIGMOID, v, w);
        Tensor out = scratch("out", Layout.NHWC, input.shape());
        backend.mulForward(input, w, out);
        return out;
    }

    public Tensor backward(Tensor dOut) {
        int n = x.dim(0);
        Tensor dx = grad("dx", x.shape());
        Tensor dw = scratch("dw", Layout.PLAIN, n, c);
        backend.mulBackward(dOut, x, w, dx, dw);
        backend.activationBackward(Activation.SIGMOID, null, w, dw, dw);
        Tensor dx2 = grad("dx2", x.shape());
        if (kind == Kind.PAPER) {
            Tensor dHidden = fcOut.backward(dw);
            Tensor dhMax = scratch("dhMax", Layout.PLAIN, n, h);
            Tensor dhAvg = scratch("dhAvg", Layout.PLAIN, n, h);
            backend.mulBackward(dHidden, hMax, hAvg, dhMax, dhAvg);
            backend.globalPoolBackward(x, vmax, fcMax.backward(dhMax), fcAvg.backward(dhAvg), dx2);
        } else {
            Tensor dHidden = fc2.backward(dw);
            Tensor dz = scratch("dz", Layout.PLAIN, n, h);
            backend.activationBackward(Activation.RELU, hidden, hidden, dHidden, dz);
            backend.globalPoolBackward(x, null, null, fc1.backward(dz), dx2);
        }
        backend.addInPlace(dx, dx2);
        done(dx2);
        return dx;
    }
}
