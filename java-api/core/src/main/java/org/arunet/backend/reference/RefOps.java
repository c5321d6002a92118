package org.arunet.backend.reference;

import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dSpec;

/**
 * The mathematics of every {@link org.arunet.backend.Backend} operation as naive loops on {@code double}
 * arrays: the test oracle. {@link ReferenceBackend} only converts tensors to and from these arrays, so
 * gradient checks can run here in double precision with tight tolerances.
 *
 * <p>Layouts are those of the backend contract, flattened row-major: activations NHWC
 * {@code [N, H, W, C]} (channels fastest), convolution weights OIHW {@code [out, in / groups, kh, kw]},
 * linear weights {@code [out, in]}, per-image vectors {@code [N, C]}, class targets {@code [N, H, W]}.
 * Every method returns fresh arrays (it never writes its inputs) unless it says otherwise, and validates
 * array lengths and sizes with {@link IllegalArgumentException}. Sums are accumulated in double in plain
 * index order; nothing here is tuned for speed beyond choosing loop orders that walk memory forwards.
 */
public final class RefOps {
    private RefOps() {}

    // ------------------------------------------------------------------ helpers

    /** Throws unless {@code a.length == expected}. */
    static void requireLength(String op, String name, double[] a, long expected) {
        if (a == null) {
            throw new IllegalArgumentException(op + ": " + name + " is null");
        }
        if (a.length != expected) {
            throw new IllegalArgumentException(op + ": " + name + " has " + a.length + " values, expected " + expected);
        }
    }

    private static int size(String op, long n) {
        if (n < 0 || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": size " + n + " does not fit a Java array");
        }
        return (int) n;
    }

    /**
     * Output size of a convolution or pooling window along one axis, PyTorch's floor formula
     * {@code (size + 2 pad - dilation (kernel - 1) - 1) / stride + 1}, computed with floor division, and
     * rejecting an input smaller than the effective kernel (where PyTorch reports an empty output).
     */
    public static int windowOutputSize(String op, int size, int kernel, int stride, int pad, int dilation) {
        int span = dilation * (kernel - 1) + 1;
        if (size + 2 * pad < span) {
            throw new IllegalArgumentException(
                    op + ": input size " + size + " with padding " + pad + " is smaller than the kernel span " + span);
        }
        return Math.floorDiv(size + 2 * pad - span, stride) + 1;
    }

    // ------------------------------------------------------------------ convolution

    /**
     * {@code y = conv(x, wt) + b}, PyTorch's {@code F.conv2d} (cross-correlation, zero padding).
     *
     * @param x NHWC {@code [n, h, w, s.inChannels]}
     * @param wt OIHW {@code [s.outChannels, s.inChannels / s.groups, s.kernelH, s.kernelW]}
     * @param b {@code [s.outChannels]} or null
     * @return NHWC {@code [n, oh, ow, s.outChannels]}
     */
    public static double[] conv2dForward(double[] x, int n, int h, int w, Conv2dSpec s, double[] wt, double[] b) {
        String op = "conv2dForward " + s;
        ConvGeometry g = new ConvGeometry(op, n, h, w, s);
        requireLength(op, "x", x, g.xSize());
        requireLength(op, "wt", wt, g.wSize());
        if (b != null) {
            requireLength(op, "b", b, s.outChannels());
        }
        double[] y = new double[size(op, g.ySize())];
        for (int ni = 0; ni < n; ni++) {
            for (int oy = 0; oy < g.oh; oy++) {
                for (int ox = 0; ox < g.ow; ox++) {
                    for (int o = 0; o < g.cout; o++) {
                        int group = o / g.coutG;
                        double acc = b == null ? 0.0 : b[o];
                        for (int ky = 0; ky < g.kh; ky++) {
                            int iy = oy * g.sh - g.ph + ky * g.dh;
                            if (iy < 0 || iy >= h) {
                                continue;
                            }
                            for (int kx = 0; kx < g.kw; kx++) {
                                int ix = ox * g.sw - g.pw + kx * g.dw;
                                if (ix < 0 || ix >= w) {
                                    continue;
                                }
                                int xBase = g.xIndex(ni, iy, ix, group * g.cinG);
                                int wBase = g.wIndex(o, 0, ky, kx);
                                for (int ci = 0; ci < g.cinG; ci++) {
                                    acc += x[xBase + ci] * wt[wBase + ci * g.kernelArea];
                                }
                            }
                        }
                        y[g.yIndex(ni, oy, ox, o)] = acc;
                    }
                }
            }
        }
        return y;
    }

    /**
     * {@code dx = d(sum dy . conv(x, wt)) / dx}: every tap of the forward pass sends
     * {@code dy * weight} back to the input element it read (padding taps are dropped).
     *
     * @param dy NHWC {@code [n, oh, ow, s.outChannels]}
     * @return NHWC {@code [n, h, w, s.inChannels]}
     */
    public static double[] conv2dBackwardData(double[] dy, int n, int h, int w, Conv2dSpec s, double[] wt) {
        String op = "conv2dBackwardData " + s;
        ConvGeometry g = new ConvGeometry(op, n, h, w, s);
        requireLength(op, "dy", dy, g.ySize());
        requireLength(op, "wt", wt, g.wSize());
        double[] dx = new double[size(op, g.xSize())];
        for (int ni = 0; ni < n; ni++) {
            for (int oy = 0; oy < g.oh; oy++) {
                for (int ox = 0; ox < g.ow; ox++) {
                    for (int o = 0; o < g.cout; o++) {
                        int group = o / g.coutG;
                        double d = dy[g.yIndex(ni, oy, ox, o)];
                        for (int ky = 0; ky < g.kh; ky++) {
                            int iy = oy * g.sh - g.ph + ky * g.dh;
                            if (iy < 0 || iy >= h) {
                                continue;
                            }
                            for (int kx = 0; kx < g.kw; kx++) {
                                int ix = ox * g.sw - g.pw + kx * g.dw;
                                if (ix < 0 || ix >= w) {
                                    continue;
                                }
                                int xBase = g.xIndex(ni, iy, ix, group * g.cinG);
                                int wBase = g.wIndex(o, 0, ky, kx);
                                for (int ci = 0; ci < g.cinG; ci++) {
                                    dx[xBase + ci] += d * wt[wBase + ci * g.kernelArea];
                                }
                            }
                        }
                    }
                }
            }
        }
        return dx;
    }

    /**
     * {@code dwt = d(sum dy . conv(x, wt)) / dwt}: each weight collects {@code dy * x} over every output
     * position (and image) where it was applied.
     *
     * @return OIHW {@code [s.outChannels, s.inChannels / s.groups, s.kernelH, s.kernelW]}
     */
    public static double[] conv2dBackwardWeights(double[] x, int n, int h, int w, Conv2dSpec s, double[] dy) {
        String op = "conv2dBackwardWeights " + s;
        ConvGeometry g = new ConvGeometry(op, n, h, w, s);
        requireLength(op, "x", x, g.xSize());
        requireLength(op, "dy", dy, g.ySize());
        double[] dwt = new double[size(op, g.wSize())];
        for (int ni = 0; ni < n; ni++) {
            for (int oy = 0; oy < g.oh; oy++) {
                for (int ox = 0; ox < g.ow; ox++) {
                    for (int o = 0; o < g.cout; o++) {
                        int group = o / g.coutG;
                        double d = dy[g.yIndex(ni, oy, ox, o)];
                        for (int ky = 0; ky < g.kh; ky++) {
                            int iy = oy * g.sh - g.ph + ky * g.dh;
                            if (iy < 0 || iy >= h) {
                                continue;
                            }
                            for (int kx = 0; kx < g.kw; kx++) {
                                int ix = ox * g.sw - g.pw + kx * g.dw;
                                if (ix < 0 || ix >= w) {
                                    continue;
                                }
                                int xBase = g.xIndex(ni, iy, ix, group * g.cinG);
                                int wBase = g.wIndex(o, 0, ky, kx);
                                for (int ci = 0; ci < g.cinG; ci++) {
                                    dwt[wBase + ci * g.kernelArea] += d * x[xBase + ci];
                                }
                            }
                        }
                    }
                }
            }
        }
        return dwt;
    }

    /**
     * Sum over all leading positions of a channels-last array: {@code out[c] = sum_p a[p, c]} (the bias
     * gradient of a convolution, BatchNorm's {@code dBeta} without activation, a linear layer's
     * {@code db}).
     *
     * @param a {@code [positions, c]}
     */
    public static double[] channelSum(double[] a, int positions, int c) {
        requireLength("channelSum", "a", a, (long) positions * c);
        double[] out = new double[c];
        for (int p = 0; p < positions; p++) {
            for (int ci = 0; ci < c; ci++) {
                out[ci] += a[p * c + ci];
            }
        }
        return out;
    }

    /** Sizes and index arithmetic of one convolution on one input shape. */
    private static final class ConvGeometry {
        final int n, h, w, cin, cout, cinG, coutG, kh, kw, sh, sw, ph, pw, dh, dw, oh, ow, kernelArea;

        ConvGeometry(String op, int n, int h, int w, Conv2dSpec s) {
            if (n < 0 || h <= 0 || w <= 0) {
                throw new IllegalArgumentException(op + ": invalid input size n=" + n + " h=" + h + " w=" + w);
            }
            this.n = n;
            this.h = h;
            this.w = w;
            cin = s.inChannels();
            cout = s.outChannels();
            cinG = cin / s.groups();
            coutG = cout / s.groups();
            kh = s.kernelH();
            kw = s.kernelW();
            sh = s.strideH();
            sw = s.strideW();
            ph = s.padH();
            pw = s.padW();
            dh = s.dilationH();
            dw = s.dilationW();
            oh = windowOutputSize(op, h, kh, sh, ph, dh);
            ow = windowOutputSize(op, w, kw, sw, pw, dw);
            kernelArea = kh * kw;
        }

        long xSize() {
            return (long) n * h * w * cin;
        }

        long ySize() {
            return (long) n * oh * ow * cout;
        }

        long wSize() {
            return (long) cout * cinG * kh * kw;
        }

        int xIndex(int ni, int iy, int ix, int c) {
            return ((ni * h + iy) * w + ix) * cin + c;
        }

        int yIndex(int ni, int oy, int ox, int o) {
            return ((ni * oh + oy) * ow + ox) * cout + o;
        }

        int wIndex(int o, int ci, int ky, int kx) {
            return ((o * cinG + ci) * kh + ky) * kw + kx;
        }
    }

    // ------------------------------------------------------------------ batch normalisation

    /**
     * Training-mode BatchNorm forward results.
     *
     * @param y {@code [m, c]} output (after the optional ReLU)
     * @param mean {@code [c]} batch mean
     * @param biasedVar {@code [c]} batch variance divided by m (used to normalise)
     * @param invStd {@code [c]} {@code 1 / sqrt(biasedVar + eps)}
     */
    public record BatchNormForward(double[] y, double[] mean, double[] biasedVar, double[] invStd) {}

    /**
     * Gradients of training-mode BatchNorm.
     *
     * @param dx {@code [m, c]}
     * @param dGamma {@code [c]}
     * @param dBeta {@code [c]}
     */
    public record BatchNormGrads(double[] dx, double[] dGamma, double[] dBeta) {}

    /**
     * Training-mode BatchNorm over the m = N H W positions of each channel:
     * {@code y = act(gamma (x - mean) invStd + beta)} with the batch mean and biased variance (two-pass).
     *
     * @param x {@code [m, c]} (NHWC flattened over N, H, W); m must exceed 1, as in PyTorch
     * @param relu whether ReLU follows
     */
    public static BatchNormForward batchNormTrainForward(
            double[] x, int m, int c, double[] gamma, double[] beta, double eps, boolean relu) {
        String op = "batchNormTrainForward";
        if (m <= 1) {
            throw new IllegalArgumentException(op + ": training needs more than one value per channel, got " + m);
        }
        requireLength(op, "x", x, (long) m * c);
        requireLength(op, "gamma", gamma, c);
        requireLength(op, "beta", beta, c);
        double[] mean = new double[c];
        double[] var = new double[c];
        double[] invStd = new double[c];
        for (int p = 0; p < m; p++) {
            for (int ci = 0; ci < c; ci++) {
                mean[ci] += x[p * c + ci];
            }
        }
        for (int ci = 0; ci < c; ci++) {
            mean[ci] /= m;
        }
        for (int p = 0; p < m; p++) {
            for (int ci = 0; ci < c; ci++) {
                double d = x[p * c + ci] - mean[ci];
                var[ci] += d * d;
            }
        }
        for (int ci = 0; ci < c; ci++) {
            var[ci] /= m;
            invStd[ci] = 1.0 / Math.sqrt(var[ci] + eps);
        }
        double[] y = normalise(x, m, c, gamma, beta, mean, invStd, relu);
        return new BatchNormForward(y, mean, var, invStd);
    }

    /**
     * Inference-mode BatchNorm: {@code y = act(gamma (x - runningMean) / sqrt(runningVar + eps) + beta)}.
     *
     * @param x {@code [m, c]}
     */
    public static double[] batchNormInferenceForward(
            double[] x,
            int m,
            int c,
            double[] gamma,
            double[] beta,
            double[] runningMean,
            double[] runningVar,
            double eps,
            boolean relu) {
        String op = "batchNormInferenceForward";
        requireLength(op, "x", x, (long) m * c);
        requireLength(op, "gamma", gamma, c);
        requireLength(op, "beta", beta, c);
        requireLength(op, "runningMean", runningMean, c);
        requireLength(op, "runningVar", runningVar, c);
        double[] invStd = new double[c];
        for (int ci = 0; ci < c; ci++) {
            invStd[ci] = 1.0 / Math.sqrt(runningVar[ci] + eps);
        }
        return normalise(x, m, c, gamma, beta, runningMean, invStd, relu);
    }

    private static double[] normalise(
            double[] x, int m, int c, double[] gamma, double[] beta, double[] mean, double[] invStd, boolean relu) {
        double[] y = new double[x.length];
        for (int p = 0; p < m; p++) {
            for (int ci = 0; ci < c; ci++) {
                int i = p * c + ci;
                double v = gamma[ci] * (x[i] - mean[ci]) * invStd[ci] + beta[ci];
                y[i] = relu ? relu(v) : v;
            }
        }
        return y;
    }

    /**
     * Running statistics update of training-mode BatchNorm, in place:
     * {@code runningMean = (1 - momentum) runningMean + momentum mean},
     * {@code runningVar = (1 - momentum) runningVar + momentum biasedVar m / (m - 1)}.
     */
    public static void batchNormUpdateRunningStats(
            double[] runningMean, double[] runningVar, double[] mean, double[] biasedVar, int m, double momentum) {
        String op = "batchNormUpdateRunningStats";
        int c = mean.length;
        requireLength(op, "runningMean", runningMean, c);
        requireLength(op, "runningVar", runningVar, c);
        requireLength(op, "biasedVar", biasedVar, c);
        if (m <= 1) {
            throw new IllegalArgumentException(op + ": needs more than one value per channel, got " + m);
        }
        for (int ci = 0; ci < c; ci++) {
            double unbiased = biasedVar[ci] * m / (m - 1);
            runningMean[ci] = (1 - momentum) * runningMean[ci] + momentum * mean[ci];
            runningVar[ci] = (1 - momentum) * runningVar[ci] + momentum * unbiased;
        }
    }

    /**
     * Backward of training-mode BatchNorm (batch statistics), PyTorch's formula: with
     * {@code dz = dy * (y > 0)} for ReLU (else {@code dy}) and {@code xhat = (x - mean) invStd},
     * {@code dBeta = sum dz}, {@code dGamma = sum dz xhat},
     * {@code dx = gamma invStd / m (m dz - dBeta - xhat dGamma)}.
     *
     * @param y the forward output {@code [m, c]}; read only when {@code relu}
     * @param mean the saved batch mean {@code [c]}
     * @param invStd the saved {@code 1 / sqrt(var + eps)} {@code [c]}
     */
    public static BatchNormGrads batchNormBackward(
            double[] dy,
            double[] x,
            double[] y,
            int m,
            int c,
            double[] gamma,
            double[] mean,
            double[] invStd,
            boolean relu) {
        String op = "batchNormBackward";
        requireLength(op, "dy", dy, (long) m * c);
        requireLength(op, "x", x, (long) m * c);
        if (relu) {
            requireLength(op, "y", y, (long) m * c);
        }
        requireLength(op, "gamma", gamma, c);
        requireLength(op, "mean", mean, c);
        requireLength(op, "invStd", invStd, c);
        double[] dz = dy.clone();
        if (relu) {
            for (int i = 0; i < dz.length; i++) {
                dz[i] = y[i] > 0 ? dz[i] : 0.0;
            }
        }
        double[] dGamma = new double[c];
        double[] dBeta = new double[c];
        for (int p = 0; p < m; p++) {
            for (int ci = 0; ci < c; ci++) {
                int i = p * c + ci;
                double xhat = (x[i] - mean[ci]) * invStd[ci];
                dBeta[ci] += dz[i];
                dGamma[ci] += dz[i] * xhat;
            }
        }
        double[] dx = new double[dz.length];
        for (int p = 0; p < m; p++) {
            for (int ci = 0; ci < c; ci++) {
                int i = p * c + ci;
                double xhat = (x[i] - mean[ci]) * invStd[ci];
                dx[i] = gamma[ci] * invStd[ci] / m * (m * dz[i] - dBeta[ci] - xhat * dGamma[ci]);
            }
        }
        return new BatchNormGrads(dx, dGamma, dBeta);
    }

    // ------------------------------------------------------------------ activations

    /** {@code max(x, 0)}; NaN stays NaN (as PyTorch's relu). */
    public static double relu(double x) {
        return x > 0 ? x : (Double.isNaN(x) ? x : 0.0);
    }

    /** Exact GELU {@code 0.5 x (1 + erf(x / sqrt 2))}. */
    public static double gelu(double x) {
        return 0.5 * x * (1.0 + Erf.erf(x / Math.sqrt(2.0)));
    }

    /** {@code d gelu / dx = Phi(x) + x phi(x)} with the standard normal CDF Phi and density phi. */
    public static double geluDerivative(double x) {
        double cdf = 0.5 * (1.0 + Erf.erf(x / Math.sqrt(2.0)));
        double pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2.0 * Math.PI);
        return cdf + x * pdf;
    }

    /** {@code 1 / (1 + exp(-x))}, evaluated without overflow for either sign. */
    public static double sigmoid(double x) {
        if (x >= 0) {
            return 1.0 / (1.0 + Math.exp(-x));
        }
        double e = Math.exp(x);
        return e / (1.0 + e);
    }

    /** One activation of one value ({@link Activation#NONE} is the identity). */
    public static double activate(Activation act, double x) {
        switch (act) {
            case NONE:
                return x;
            case RELU:
                return relu(x);
            case GELU:
                return gelu(x);
            case SIGMOID:
                return sigmoid(x);
            default:
                throw new IllegalArgumentException("unknown activation " + act);
        }
    }

    /** {@code y = act(x)} elementwise. */
    public static double[] activationForward(Activation act, double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = activate(act, x[i]);
        }
        return y;
    }

    /**
     * {@code dx = dy * act'}: NONE 1, RELU {@code x > 0} (0 at 0), GELU {@link #geluDerivative}(x),
     * SIGMOID {@code y (1 - y)} from the forward output y (x unused, may be null; y unused otherwise).
     */
    public static double[] activationBackward(Activation act, double[] x, double[] y, double[] dy) {
        String op = "activationBackward " + act;
        if (act == Activation.SIGMOID) {
            requireLength(op, "y", y, dy.length);
        } else if (act != Activation.NONE) {
            requireLength(op, "x", x, dy.length);
        }
        double[] dx = new double[dy.length];
        for (int i = 0; i < dy.length; i++) {
            switch (act) {
                case NONE:
                    dx[i] = dy[i];
                    break;
                case RELU:
                    dx[i] = x[i] > 0 ? dy[i] : 0.0;
                    break;
                case GELU:
                    dx[i] = dy[i] * geluDerivative(x[i]);
                    break;
                case SIGMOID:
                    dx[i] = dy[i] * y[i] * (1.0 - y[i]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown activation " + act);
            }
        }
        return dx;
    }

    // ------------------------------------------------------------------ pooling and resampling

    /**
     * Max pooling's choice per output element: the flat NHWC index into x of the element it copies.
     * Windows are scanned in row-major order and an element replaces the current choice when it is
     * strictly greater or NaN (PyTorch's CPU rule), so among tied maxima the first wins. Padding is never a
     * candidate; the choice starts at the window's first in-bounds element, with value minus infinity.
     * {@code pad <= kernel / 2} (PyTorch's condition) guarantees every window has one.
     *
     * @param x NHWC {@code [n, h, w, c]}
     * @return {@code [n, oh, ow, c]} indices, oh = floor((h + 2 pad - kernel) / stride) + 1
     */
    public static int[] maxPoolArgmax(double[] x, int n, int h, int w, int c, int kernel, int stride, int pad) {
        String op = "maxPool(k=" + kernel + ", s=" + stride + ", p=" + pad + ")";
        if (kernel <= 0 || stride <= 0 || pad < 0 || pad > kernel / 2) {
            throw new IllegalArgumentException(op + ": needs kernel > 0, stride > 0 and 0 <= pad <= kernel / 2");
        }
        requireLength(op, "x", x, (long) n * h * w * c);
        int oh = windowOutputSize(op, h, kernel, stride, pad, 1);
        int ow = windowOutputSize(op, w, kernel, stride, pad, 1);
        int[] arg = new int[size(op, (long) n * oh * ow * c)];
        for (int ni = 0; ni < n; ni++) {
            for (int oy = 0; oy < oh; oy++) {
                int y0 = Math.max(oy * stride - pad, 0);
                int y1 = Math.min(oy * stride - pad + kernel, h);
                for (int ox = 0; ox < ow; ox++) {
                    int x0 = Math.max(ox * stride - pad, 0);
                    int x1 = Math.min(ox * stride - pad + kernel, w);
                    for (int ci = 0; ci < c; ci++) {
                        int best = ((ni * h + y0) * w + x0) * c + ci;
                        double bestValue = Double.NEGATIVE_INFINITY;
                        for (int iy = y0; iy < y1; iy++) {
                            for (int ix = x0; ix < x1; ix++) {
                                int i = ((ni * h + iy) * w + ix) * c + ci;
                                if (x[i] > bestValue || Double.isNaN(x[i])) {
                                    bestValue = x[i];
                                    best = i;
                                }
                            }
                        }
                        arg[((ni * oh + oy) * ow + ox) * c + ci] = best;
                    }
                }
            }
        }
        return arg;
    }

    /** {@code y = F.max_pool2d(x, kernel, stride, pad)}; see {@link #maxPoolArgmax}. */
    public static double[] maxPoolForward(double[] x, int n, int h, int w, int c, int kernel, int stride, int pad) {
        int[] arg = maxPoolArgmax(x, n, h, w, c, kernel, stride, pad);
        double[] y = new double[arg.length];
        for (int o = 0; o < arg.length; o++) {
            y[o] = x[arg[o]];
        }
        return y;
    }

    /** {@code dx}: each {@code dy} added to the element its window chose (see {@link #maxPoolArgmax}). */
    public static double[] maxPoolBackward(
            double[] x, double[] dy, int n, int h, int w, int c, int kernel, int stride, int pad) {
        int[] arg = maxPoolArgmax(x, n, h, w, c, kernel, stride, pad);
        requireLength("maxPoolBackward", "dy", dy, arg.length);
        double[] dx = new double[x.length];
        for (int o = 0; o < arg.length; o++) {
            dx[arg[o]] += dy[o];
        }
        return dx;
    }

    /**
     * {@code max[n, c] = max over the hw positions of x[n, :, c]} (NaN if any element is NaN).
     *
     * @param x {@code [n, hw, c]}
     */
    public static double[] globalMaxPool(double[] x, int n, int hw, int c) {
        requireLength("globalMaxPool", "x", x, (long) n * hw * c);
        double[] max = new double[n * c];
        java.util.Arrays.fill(max, Double.NEGATIVE_INFINITY);
        for (int ni = 0; ni < n; ni++) {
            for (int p = 0; p < hw; p++) {
                for (int ci = 0; ci < c; ci++) {
                    double v = x[(ni * hw + p) * c + ci];
                    int o = ni * c + ci;
                    if (v > max[o] || Double.isNaN(v)) {
                        max[o] = v;
                    }
                }
            }
        }
        return max;
    }

    /** {@code avg[n, c] = mean over the hw positions of x[n, :, c]}. */
    public static double[] globalAvgPool(double[] x, int n, int hw, int c) {
        requireLength("globalAvgPool", "x", x, (long) n * hw * c);
        double[] avg = new double[n * c];
        for (int ni = 0; ni < n; ni++) {
            for (int p = 0; p < hw; p++) {
                for (int ci = 0; ci < c; ci++) {
                    avg[ni * c + ci] += x[(ni * hw + p) * c + ci];
                }
            }
        }
        for (int o = 0; o < avg.length; o++) {
            avg[o] /= hw;
        }
        return avg;
    }

    /**
     * Backward of the global pools, as PyTorch's {@code amax} and {@code mean}:
     * {@code dx = [x == max] dMax / count + dAvg / hw}, count the number of elements equal to the max of
     * their (n, c). The mask multiplies the share, so a NaN max (count 0) makes the whole (n, c) slice NaN,
     * as in PyTorch.
     *
     * @param max the forward maxima {@code [n, c]}, required with dMax
     * @param dMax {@code [n, c]} or null
     * @param dAvg {@code [n, c]} or null
     */
    public static double[] globalPoolBackward(
            double[] x, double[] max, double[] dMax, double[] dAvg, int n, int hw, int c) {
        String op = "globalPoolBackward";
        requireLength(op, "x", x, (long) n * hw * c);
        if (dMax != null) {
            requireLength(op, "max", max, (long) n * c);
            requireLength(op, "dMax", dMax, (long) n * c);
        }
        if (dAvg != null) {
            requireLength(op, "dAvg", dAvg, (long) n * c);
        }
        double[] dx = new double[x.length];
        for (int ni = 0; ni < n; ni++) {
            for (int ci = 0; ci < c; ci++) {
                int o = ni * c + ci;
                double maxShare = 0.0;
                if (dMax != null) {
                    int count = 0;
                    for (int p = 0; p < hw; p++) {
                        if (x[(ni * hw + p) * c + ci] == max[o]) {
                            count++;
                        }
                    }
                    maxShare = dMax[o] / count;
                }
                double avgShare = dAvg == null ? 0.0 : dAvg[o] / hw;
                for (int p = 0; p < hw; p++) {
                    int i = (ni * hw + p) * c + ci;
                    double mask = dMax != null && x[i] == max[o] ? 1.0 : 0.0;
                    dx[i] = (dMax != null ? mask * maxShare : 0.0) + avgShare;
                }
            }
        }
        return dx;
    }

    /**
     * Per-position channel statistics: {@code out[p, 0] = max_c x[p, c]}, {@code out[p, 1] = mean_c x[p, c]}.
     *
     * @param x {@code [positions, c]}
     * @return {@code [positions, 2]}
     */
    public static double[] channelMaxMean(double[] x, int positions, int c) {
        requireLength("channelMaxMean", "x", x, (long) positions * c);
        double[] out = new double[positions * 2];
        for (int p = 0; p < positions; p++) {
            double max = Double.NEGATIVE_INFINITY;
            double sum = 0.0;
            for (int ci = 0; ci < c; ci++) {
                double v = x[p * c + ci];
                if (v > max || Double.isNaN(v)) {
                    max = v;
                }
                sum += v;
            }
            out[2 * p] = max;
            out[2 * p + 1] = sum / c;
        }
        return out;
    }

    /**
     * Backward of {@link #channelMaxMean}: {@code dx[p, c] = [x == out[p, 0]] dOut[p, 0] / count +
     * dOut[p, 1] / C}, count the tied maxima of position p (the max gradient split evenly, as {@code amax}).
     *
     * @param out the forward output {@code [positions, 2]} (its max channel defines the ties)
     */
    public static double[] channelMaxMeanBackward(double[] x, double[] out, double[] dOut, int positions, int c) {
        String op = "channelMaxMeanBackward";
        requireLength(op, "x", x, (long) positions * c);
        requireLength(op, "out", out, positions * 2L);
        requireLength(op, "dOut", dOut, positions * 2L);
        double[] dx = new double[x.length];
        for (int p = 0; p < positions; p++) {
            double max = out[2 * p];
            int count = 0;
            for (int ci = 0; ci < c; ci++) {
                if (x[p * c + ci] == max) {
                    count++;
                }
            }
            double maxShare = dOut[2 * p] / count;
            double meanShare = dOut[2 * p + 1] / c;
            for (int ci = 0; ci < c; ci++) {
                double mask = x[p * c + ci] == max ? 1.0 : 0.0;
                dx[p * c + ci] = mask * maxShare + meanShare;
            }
        }
        return dx;
    }

    /**
     * Nearest-neighbour upsampling by 2: {@code y[n, oy, ox, c] = x[n, oy / 2, ox / 2, c]}.
     *
     * @param x NHWC {@code [n, h, w, c]}
     * @return NHWC {@code [n, 2h, 2w, c]}
     */
    public static double[] upsample2xForward(double[] x, int n, int h, int w, int c) {
        requireLength("upsample2xForward", "x", x, (long) n * h * w * c);
        double[] y = new double[size("upsample2xForward", 4L * n * h * w * c)];
        for (int ni = 0; ni < n; ni++) {
            for (int oy = 0; oy < 2 * h; oy++) {
                for (int ox = 0; ox < 2 * w; ox++) {
                    for (int ci = 0; ci < c; ci++) {
                        y[((ni * 2 * h + oy) * 2 * w + ox) * c + ci] = x[((ni * h + oy / 2) * w + ox / 2) * c + ci];
                    }
                }
            }
        }
        return y;
    }

    /**
     * Backward of {@link #upsample2xForward}: {@code dx[n, y, x, c]} = the sum of its four copies in dy.
     *
     * @param dy NHWC {@code [n, 2h, 2w, c]}
     * @return NHWC {@code [n, h, w, c]}
     */
    public static double[] upsample2xBackward(double[] dy, int n, int h, int w, int c) {
        requireLength("upsample2xBackward", "dy", dy, 4L * n * h * w * c);
        double[] dx = new double[n * h * w * c];
        for (int ni = 0; ni < n; ni++) {
            for (int oy = 0; oy < 2 * h; oy++) {
                for (int ox = 0; ox < 2 * w; ox++) {
                    for (int ci = 0; ci < c; ci++) {
                        dx[((ni * h + oy / 2) * w + ox / 2) * c + ci] += dy[((ni * 2 * h + oy) * 2 * w + ox) * c + ci];
                    }
                }
            }
        }
        return dx;
    }

    /**
     * {@code out[p] = a[p] ++ b[p]} along the channel (last) axis.
     *
     * @param a {@code [positions, ca]}
     * @param b {@code [positions, cb]}
     * @return {@code [positions, ca + cb]}
     */
    public static double[] concatChannels(double[] a, double[] b, int positions, int ca, int cb) {
        requireLength("concatChannels", "a", a, (long) positions * ca);
        requireLength("concatChannels", "b", b, (long) positions * cb);
        int c = ca + cb;
        double[] out = new double[size("concatChannels", (long) positions * c)];
        for (int p = 0; p < positions; p++) {
            System.arraycopy(a, p * ca, out, p * c, ca);
            System.arraycopy(b, p * cb, out, p * c + ca, cb);
        }
        return out;
    }

    /**
     * Inverse of {@link #concatChannels}: {@code {out[..., :ca], out[..., ca:]}}.
     *
     * @param out {@code [positions, ca + cb]}
     * @return the two parts {@code [positions, ca]} and {@code [positions, cb]}
     */
    public static double[][] splitChannels(double[] out, int positions, int ca, int cb) {
        int c = ca + cb;
        requireLength("splitChannels", "out", out, (long) positions * c);
        double[] a = new double[positions * ca];
        double[] b = new double[positions * cb];
        for (int p = 0; p < positions; p++) {
            System.arraycopy(out, p * c, a, p * ca, ca);
            System.arraycopy(out, p * c + ca, b, p * cb, cb);
        }
        return new double[][] {a, b};
    }

    // ------------------------------------------------------------------ broadcasting products

    /** Which element of w multiplies element i of x in {@link #mulForward}. */
    public enum Broadcast {
        /** w has x's shape: {@code w[i]}. */
        SAME,
        /** x NHWC {@code [n, hw, c]}, w {@code [n, hw, 1]}: one weight per pixel. */
        PER_PIXEL,
        /** x NHWC {@code [n, hw, c]}, w {@code [n, c]}: one weight per image and channel. */
        PER_CHANNEL;

        /** Index into w for flat index i of x, with hw positions per image and c channels. */
        public int weightIndex(int i, int hw, int c) {
            switch (this) {
                case SAME:
                    return i;
                case PER_PIXEL:
                    return i / c;
                case PER_CHANNEL:
                    return i / (hw * c) * c + i % c;
                default:
                    throw new IllegalStateException(name());
            }
        }

        /** Number of weights for x of shape {@code [n, hw, c]}. */
        public long weightCount(int n, int hw, int c) {
            switch (this) {
                case SAME:
                    return (long) n * hw * c;
                case PER_PIXEL:
                    return (long) n * hw;
                case PER_CHANNEL:
                    return (long) n * c;
                default:
                    throw new IllegalStateException(name());
            }
        }
    }

    /**
     * {@code y[i] = x[i] * w[b.weightIndex(i)]}.
     *
     * @param x {@code [n, hw, c]} (for SAME any shape with n hw c elements)
     */
    public static double[] mulForward(double[] x, double[] w, Broadcast b, int n, int hw, int c) {
        requireLength("mulForward " + b, "x", x, (long) n * hw * c);
        requireLength("mulForward " + b, "w", w, b.weightCount(n, hw, c));
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = x[i] * w[b.weightIndex(i, hw, c)];
        }
        return y;
    }

    /** {@code dx[i] = dy[i] w[b.weightIndex(i)]}. */
    public static double[] mulBackwardX(double[] dy, double[] w, Broadcast b, int n, int hw, int c) {
        return mulForward(dy, w, b, n, hw, c);
    }

    /** {@code dw[j] = sum over i with b.weightIndex(i) = j of dy[i] x[i]}. */
    public static double[] mulBackwardW(double[] dy, double[] x, Broadcast b, int n, int hw, int c) {
        requireLength("mulBackwardW " + b, "dy", dy, (long) n * hw * c);
        requireLength("mulBackwardW " + b, "x", x, (long) n * hw * c);
        double[] dw = new double[size("mulBackwardW", b.weightCount(n, hw, c))];
        for (int i = 0; i < x.length; i++) {
            dw[b.weightIndex(i, hw, c)] += dy[i] * x[i];
        }
        return dw;
    }

    // ------------------------------------------------------------------ linear

    /**
     * {@code y = x w^T + b}.
     *
     * @param x {@code [n, in]}
     * @param w {@code [out, in]}
     * @param b {@code [out]} or null
     * @return {@code [n, out]}
     */
    public static double[] linearForward(double[] x, double[] w, double[] b, int n, int in, int out) {
        requireLength("linearForward", "x", x, (long) n * in);
        requireLength("linearForward", "w", w, (long) out * in);
        if (b != null) {
            requireLength("linearForward", "b", b, out);
        }
        double[] y = new double[n * out];
        for (int ni = 0; ni < n; ni++) {
            for (int o = 0; o < out; o++) {
                double acc = b == null ? 0.0 : b[o];
                for (int i = 0; i < in; i++) {
                    acc += x[ni * in + i] * w[o * in + i];
                }
                y[ni * out + o] = acc;
            }
        }
        return y;
    }

    /** {@code dx = dy w}: {@code [n, in]}. */
    public static double[] linearBackwardX(double[] dy, double[] w, int n, int in, int out) {
        requireLength("linearBackwardX", "dy", dy, (long) n * out);
        requireLength("linearBackwardX", "w", w, (long) out * in);
        double[] dx = new double[n * in];
        for (int ni = 0; ni < n; ni++) {
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    dx[ni * in + i] += dy[ni * out + o] * w[o * in + i];
                }
            }
        }
        return dx;
    }

    /** {@code dw = dy^T x}: {@code [out, in]}. */
    public static double[] linearBackwardW(double[] dy, double[] x, int n, int in, int out) {
        requireLength("linearBackwardW", "dy", dy, (long) n * out);
        requireLength("linearBackwardW", "x", x, (long) n * in);
        double[] dw = new double[out * in];
        for (int ni = 0; ni < n; ni++) {
            for (int o = 0; o < out; o++) {
                for (int i = 0; i < in; i++) {
                    dw[o * in + i] += dy[ni * out + o] * x[ni * in + i];
                }
            }
        }
        return dw;
    }

    // ------------------------------------------------------------------ softmax and loss

    /**
     * Softmax over the last axis, {@code p = exp(z - max z) / sum exp(z - max z)} per position.
     *
     * @param logits {@code [positions, k]}
     */
    public static double[] softmax(double[] logits, int positions, int k) {
        requireLength("softmax", "logits", logits, (long) positions * k);
        double[] p = new double[logits.length];
        for (int q = 0; q < positions; q++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, logits[q * k + j]);
            }
            double sum = 0.0;
            for (int j = 0; j < k; j++) {
                p[q * k + j] = Math.exp(logits[q * k + j] - max);
                sum += p[q * k + j];
            }
            for (int j = 0; j < k; j++) {
                p[q * k + j] /= sum;
            }
        }
        return p;
    }

    /**
     * The value and gradient of {@code ceWeight * CE + diceWeight * DiceLoss}.
     *
     * @param loss the weighted total
     * @param crossEntropy CE, the mean over positions of {@code -log p[target]}
     * @param diceLoss {@code 1 - mean_k dice_k}
     * @param dLogits {@code d loss / d logits} {@code [positions, k]}, or null when not asked for
     */
    public record LossResult(double loss, double crossEntropy, double diceLoss, double[] dLogits) {}

    /**
     * The reference's {@code aru_net.loss} with weights: CE is the mean over all positions of
     * {@code -log softmax(logits)[target]} (log-sum-exp form), and with p the softmax probabilities and t
     * the one-hot target, pooled over all positions, {@code I_k = sum p_k t_k}, {@code P_k = sum p_k},
     * {@code T_k = sum t_k}, {@code dice_k = (2 I_k + smooth) / (P_k + T_k + smooth)},
     * {@code DiceLoss = 1 - mean_k dice_k}.
     *
     * <p>Gradient: {@code dCE/dz = (p - t) / M}; for the Dice term, with {@code D_k = P_k + T_k + smooth},
     * {@code dL/dp_k = -(diceWeight / K) (2 t_k D_k - (2 I_k + smooth)) / D_k^2}, taken through the softmax
     * Jacobian {@code dz_j = p_j (g_j - sum_k p_k g_k)}.
     *
     * @param logits {@code [positions, k]}
     * @param target {@code [positions]} class indices in {@code [0, k)}
     * @param gradient whether to compute {@code dLogits}
     */
    public static LossResult crossEntropyDiceLoss(
            double[] logits,
            int[] target,
            int positions,
            int k,
            double ceWeight,
            double diceWeight,
            double smooth,
            boolean gradient) {
        String op = "crossEntropyDiceLoss";
        requireLength(op, "logits", logits, (long) positions * k);
        if (target == null || target.length != positions) {
            throw new IllegalArgumentException(op + ": target must have " + positions + " values");
        }
        if (positions <= 0 || k <= 0) {
            throw new IllegalArgumentException(op + ": needs positions > 0 and k > 0, got " + positions + ", " + k);
        }
        for (int q = 0; q < positions; q++) {
            if (target[q] < 0 || target[q] >= k) {
                throw new IllegalArgumentException(
                        op + ": target[" + q + "] = " + target[q] + " is not a class in [0, " + k + ")");
            }
        }
        double[] p = new double[logits.length];
        double ceSum = 0.0;
        for (int q = 0; q < positions; q++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < k; j++) {
                max = Math.max(max, logits[q * k + j]);
            }
            double sum = 0.0;
            for (int j = 0; j < k; j++) {
                sum += Math.exp(logits[q * k + j] - max);
            }
            double logSum = Math.log(sum) + max;
            for (int j = 0; j < k; j++) {
                p[q * k + j] = Math.exp(logits[q * k + j] - logSum);
            }
            ceSum += logSum - logits[q * k + target[q]];
        }
        double ce = ceSum / positions;

        double[] inter = new double[k];
        double[] pSum = new double[k];
        double[] tSum = new double[k];
        for (int q = 0; q < positions; q++) {
            for (int j = 0; j < k; j++) {
                pSum[j] += p[q * k + j];
            }
            inter[target[q]] += p[q * k + target[q]];
            tSum[target[q]] += 1.0;
        }
        double[] denom = new double[k];
        double diceMean = 0.0;
        for (int j = 0; j < k; j++) {
            denom[j] = pSum[j] + tSum[j] + smooth;
            diceMean += (2.0 * inter[j] + smooth) / denom[j];
        }
        diceMean /= k;
        double dice = 1.0 - diceMean;
        double loss = ceWeight * ce + diceWeight * dice;
        if (!gradient) {
            return new LossResult(loss, ce, dice, null);
        }

        double[] dLogits = new double[logits.length];
        double[] g = new double[k];
        for (int q = 0; q < positions; q++) {
            double pg = 0.0;
            for (int j = 0; j < k; j++) {
                double t = target[q] == j ? 1.0 : 0.0;
                g[j] = -(diceWeight / k) * (2.0 * t * denom[j] - (2.0 * inter[j] + smooth)) / (denom[j] * denom[j]);
                pg += p[q * k + j] * g[j];
            }
            for (int j = 0; j < k; j++) {
                double pj = p[q * k + j];
                double t = target[q] == j ? 1.0 : 0.0;
                dLogits[q * k + j] = ceWeight * (pj - t) / positions + pj * (g[j] - pg);
            }
        }
        return new LossResult(loss, ce, dice, dLogits);
    }

    /**
     * Focal Tversky loss pooled over all positions and averaged over classes: with p the softmax
     * probabilities and t the one-hot target, {@code TP_k = sum p_k t_k}, {@code FN_k = T_k - TP_k},
     * {@code FP_k = P_k - TP_k}, {@code TI_k = (TP_k + s) / (TP_k + alpha FN_k + beta FP_k + s)},
     * {@code loss = mean_k (1 - TI_k)^gamma}.
     *
     * <p>Gradient: with {@code A = TP + s}, {@code D = TP + alpha FN + beta FP + s},
     * {@code dTI_k/dp_k = (t D - A (t (1 - alpha - beta) + beta)) / D^2} and
     * {@code dL/dTI_k = -(gamma / K) max(1 - TI_k, 1e-12)^(gamma - 1)} (the floor keeps the gradient
     * finite for gamma below 1 when a class is perfect), through the softmax Jacobian.
     */
    public static LossResult focalTverskyLoss(
            double[] logits,
            int[] target,
            int positions,
            int k,
            double alpha,
            double beta,
            double gamma,
            double smooth,
            boolean gradient) {
        String op = "focalTverskyLoss";
        requireLength(op, "logits", logits, (long) positions * k);
        if (target == null || target.length != positions || positions <= 0 || k <= 0) {
            throw new IllegalArgumentException(op + ": needs " + positions + " targets, positions > 0 and k > 0");
        }
        double[] p = softmax(logits, positions, k);
        double[] tp = new double[k];
        double[] pSum = new double[k];
        double[] tSum = new double[k];
        for (int q = 0; q < positions; q++) {
            int t = target[q];
            if (t < 0 || t >= k) {
                throw new IllegalArgumentException(
                        op + ": target[" + q + "] = " + t + " is not a class in [0, " + k + ")");
            }
            for (int j = 0; j < k; j++) {
                pSum[j] += p[q * k + j];
            }
            tp[t] += p[q * k + t];
            tSum[t] += 1.0;
        }
        double[] a = new double[k];
        double[] d = new double[k];
        double[] dLdTi = new double[k];
        double loss = 0.0;
        for (int j = 0; j < k; j++) {
            a[j] = tp[j] + smooth;
            d[j] = tp[j] + alpha * (tSum[j] - tp[j]) + beta * (pSum[j] - tp[j]) + smooth;
            double ti = a[j] / d[j];
            loss += Math.pow(1.0 - ti, gamma);
            dLdTi[j] = -(gamma / k) * Math.pow(Math.max(1.0 - ti, 1e-12), gamma - 1.0);
        }
        loss /= k;
        if (!gradient) {
            return new LossResult(loss, Double.NaN, Double.NaN, null);
        }
        double[] dLogits = new double[logits.length];
        double[] g = new double[k];
        for (int q = 0; q < positions; q++) {
            double pg = 0.0;
            for (int j = 0; j < k; j++) {
                double t = target[q] == j ? 1.0 : 0.0;
                g[j] = dLdTi[j] * (t * d[j] - a[j] * (t * (1.0 - alpha - beta) + beta)) / (d[j] * d[j]);
                pg += p[q * k + j] * g[j];
            }
            for (int j = 0; j < k; j++) {
                dLogits[q * k + j] = p[q * k + j] * (g[j] - pg);
            }
        }
        return new LossResult(loss, Double.NaN, Double.NaN, dLogits);
    }

    // ------------------------------------------------------------------ optimizer and reductions

    /**
     * One Adam step in place, {@code torch.optim.Adam}'s single-tensor algorithm: {@code g += wd p} when
     * {@code wd != 0}; {@code m = b1 m + (1 - b1) g}; {@code v = b2 v + (1 - b2) g^2};
     * {@code p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)}.
     *
     * @param step t, starting at 1
     */
    public static void adamStep(
            double[] p,
            double[] g,
            double[] m,
            double[] v,
            double lr,
            double beta1,
            double beta2,
            double eps,
            double weightDecay,
            long step) {
        String op = "adamStep";
        requireLength(op, "g", g, p.length);
        requireLength(op, "m", m, p.length);
        requireLength(op, "v", v, p.length);
        if (step < 1) {
            throw new IllegalArgumentException(op + ": step starts at 1, got " + step);
        }
        double biasCorrection1 = 1.0 - Math.pow(beta1, step);
        double biasCorrection2 = 1.0 - Math.pow(beta2, step);
        double stepSize = lr / biasCorrection1;
        double biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
        for (int i = 0; i < p.length; i++) {
            double gi = weightDecay != 0 ? g[i] + weightDecay * p[i] : g[i];
            m[i] = beta1 * m[i] + (1.0 - beta1) * gi;
            v[i] = beta2 * v[i] + (1.0 - beta2) * gi * gi;
            p[i] -= stepSize * m[i] / (Math.sqrt(v[i]) / biasCorrection2Sqrt + eps);
        }
    }

    /** {@code sum x^2} (NaN and infinities propagate). */
    public static double sumOfSquares(double[] x) {
        double s = 0.0;
        for (double v : x) {
            s += v * v;
        }
        return s;
    }
}
