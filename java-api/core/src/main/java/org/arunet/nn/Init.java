package org.arunet.nn;

import java.util.SplittableRandom;
import org.arunet.tensor.Tensor;

/**
 * Parameter initialisation, deterministic for a seed.
 * <ul>
 *   <li>{@link Scheme#AUTHORS} (the paper's recipe; the authors' training code): convolution weights
 *       {@code N(0, 0.02)}, BatchNorm gamma {@code N(1, 0.02)}, beta 0; convolution biases and
 *       linear weights as PyTorch's defaults.
 *   <li>{@link Scheme#PYTORCH} (the standard recipe's, and {@code ArUNet.builder()}'s default): PyTorch's
 *       defaults everywhere: convolution and linear weights
 *       {@code U(-1/sqrt(fan_in), 1/sqrt(fan_in))} (kaiming-uniform with a = sqrt 5), biases likewise,
 *       BatchNorm gamma 1, beta 0.
 * </ul>
 * BatchNorm running statistics are reset to mean 0, variance 1.
 */
public final class Init {
    /** Which initialisation. */
    public enum Scheme {
        AUTHORS,
        PYTORCH
    }

    private Init() {}

    /** Initialises every parameter of {@code root} and its descendants, in module order. */
    public static void apply(Module root, Scheme scheme, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        for (Module m : root.modules()) {
            if (m instanceof Conv2d c) {
                int[] ws = c.spec().weightShape();
                int fanIn = ws[1] * ws[2] * ws[3];
                double bound = 1.0 / Math.sqrt(fanIn);
                if (scheme == Scheme.AUTHORS) {
                    normal(c.weight().value(), 0, 0.02, rng);
                } else {
                    uniform(c.weight().value(), bound, rng);
                }
                if (c.bias() != null) {
                    uniform(c.bias().value(), bound, rng);
                }
            } else if (m instanceof BatchNorm2d bn) {
                if (scheme == Scheme.AUTHORS) {
                    normal(bn.weight().value(), 1, 0.02, rng);
                } else {
                    constant(bn.weight().value(), 1);
                }
                constant(bn.bias().value(), 0);
                constant(bn.runningMean(), 0);
                constant(bn.runningVar(), 1);
            } else if (m instanceof Linear l) {
                double bound = 1.0 / Math.sqrt(l.in());
                uniform(l.weight().value(), bound, rng);
                if (l.bias() != null) {
                    uniform(l.bias().value(), bound, rng);
                }
            }
        }
    }

    static void normal(Tensor t, double mean, double std, SplittableRandom rng) {
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (mean + std * rng.nextGaussian());
        }
        t.copyFrom(v);
    }

    static void uniform(Tensor t, double bound, SplittableRandom rng) {
        float[] v = new float[(int) t.numel()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((2 * rng.nextDouble() - 1) * bound);
        }
        t.copyFrom(v);
    }

    static void constant(Tensor t, float value) {
        float[] v = new float[(int) t.numel()];
        java.util.Arrays.fill(v, value);
        t.copyFrom(v);
    }
}
