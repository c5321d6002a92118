package org.arunet.data.loader;

import java.util.Arrays;

/**
 * How pixels become network inputs: {@code x = (v / max - mean[c]) / std[c]}, where {@code v} is the
 * stored sample and {@code max} is 255 for 8-bit and 65535 for 16-bit images, so {@code v / max}
 * lies in [0, 1].
 *
 * <p>The default, {@link #symmetric()} (mean 0.5, std 0.5, giving [-1, 1]), suits ARU-Net, which is
 * trained from scratch on grey ultrasound: ImageNet statistics ({@link #imagenet()}) describe colour
 * photographs and matter only for an encoder pretrained with them.
 */
public final class Normalization {
    private final double[] mean;
    private final double[] std;

    private Normalization(double[] mean, double[] std) {
        if (mean.length != std.length || (mean.length != 1 && mean.length != 3)) {
            throw new IllegalArgumentException("normalization needs 1 or 3 means and as many stds, got "
                    + Arrays.toString(mean) + " / " + Arrays.toString(std));
        }
        for (int i = 0; i < std.length; i++) {
            if (!(std[i] > 0) || !Double.isFinite(std[i]) || !Double.isFinite(mean[i])) {
                throw new IllegalArgumentException("normalization std must be positive and mean finite, got mean "
                        + Arrays.toString(mean) + ", std " + Arrays.toString(std));
            }
        }
        this.mean = mean.clone();
        this.std = std.clone();
    }

    /** Mean 0.5, std 0.5 for every channel: [0, 1] becomes [-1, 1]. The default. */
    public static Normalization symmetric() {
        return of(0.5, 0.5);
    }

    /** Mean 0, std 1: inputs stay in [0, 1]. */
    public static Normalization unit() {
        return of(0, 1);
    }

    /** ImageNet's RGB statistics, mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225); 3 channels only. */
    public static Normalization imagenet() {
        return perChannel(new double[] {0.485, 0.456, 0.406}, new double[] {0.229, 0.224, 0.225});
    }

    /** The same mean and std for every channel. */
    public static Normalization of(double mean, double std) {
        return new Normalization(new double[] {mean}, new double[] {std});
    }

    /** One mean and std per channel (3 values each). */
    public static Normalization perChannel(double[] mean, double[] std) {
        return new Normalization(mean, std);
    }

    /** Number of channels it was given per-channel values for (1 = shared by all). */
    public int definedChannels() {
        return mean.length;
    }

    public double mean(int channel) {
        return mean[mean.length == 1 ? 0 : channel];
    }

    public double std(int channel) {
        return std[std.length == 1 ? 0 : channel];
    }

    /** The normalised value of stored sample {@code v} of channel {@code c} at bit depth {@code bits}. */
    public float apply(int v, int channel, int bits) {
        double max = bits == 8 ? 255.0 : 65535.0;
        return (float) ((v / max - mean(channel)) / std(channel));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Normalization n && Arrays.equals(mean, n.mean) && Arrays.equals(std, n.std);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Normalization[(v/max - " + Arrays.toString(mean) + ") / " + Arrays.toString(std) + "]";
    }
}
