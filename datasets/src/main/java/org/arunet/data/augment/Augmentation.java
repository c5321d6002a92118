package org.arunet.data.augment;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Online augmentation of an image already resized to S x S: random horizontal flip, random rotation,
 * random square crop resized back to S x S. The three steps are composed into one affine map
 * ({@link AugmentParams#inverseMatrix}) and applied once, bilinear to the image and nearest-neighbour
 * to the mask, so both get exactly the same geometry and the image is interpolated only once. Areas
 * rotated in from outside the image are black (image) and background (mask).
 *
 * <p>The paper says only "random flip, rotate, and crop"; its text gives an 80 % crop
 * ({@link #paper()}: taken on every image, so the network only ever sees lesions enlarged 1.25x). The
 * default, {@link #standard()}, draws the crop's side uniformly in [80 %, 100 %] of the image, so the
 * network also sees the scale it is tested at; the choice was made by measurement
 * ({@code docs/TRAINING-PARITY.md}).
 *
 * @param flipProbability probability of a horizontal flip, in [0, 1]
 * @param maxRotationDegrees the angle is uniform in {@code [-max, max]} degrees, max in [0, 180]
 * @param minCropScale smallest side of the square crop as a fraction of S, in (0, 1]
 * @param maxCropScale largest side of the square crop as a fraction of S, in [minCropScale, 1]; the
 *     side is uniform in [min, max] (one value when they are equal); its position is uniform over the
 *     integer offsets that keep it inside the image
 * @param cropProbability probability that the crop is taken (otherwise the whole image is kept)
 */
public record Augmentation(
        double flipProbability,
        double maxRotationDegrees,
        double minCropScale,
        double maxCropScale,
        double cropProbability) {
    public Augmentation {
        if (!(flipProbability >= 0 && flipProbability <= 1) || !(cropProbability >= 0 && cropProbability <= 1)) {
            throw new IllegalArgumentException(
                    "probabilities must be in [0, 1], got flip " + flipProbability + ", crop " + cropProbability);
        }
        if (!(maxRotationDegrees >= 0 && maxRotationDegrees <= 180)) {
            throw new IllegalArgumentException("maxRotationDegrees must be in [0, 180], got " + maxRotationDegrees);
        }
        if (!(minCropScale > 0 && minCropScale <= maxCropScale && maxCropScale <= 1)) {
            throw new IllegalArgumentException(
                    "crop scales must satisfy 0 < min <= max <= 1, got min " + minCropScale + ", max " + maxCropScale);
        }
    }

    /**
     * The paper's text: flip with probability 0.5, rotation in [-10, 10] degrees, an 80 % crop on
     * every image.
     */
    public static Augmentation paper() {
        return new Augmentation(0.5, 10, 0.8, 0.8, 1.0);
    }

    /**
     * The default: flip with probability 0.5, rotation in [-10, 10] degrees, a crop of side uniform
     * in [80 %, 100 %] on every image.
     */
    public static Augmentation standard() {
        return new Augmentation(0.5, 10, 0.8, 1.0, 1.0);
    }

    /** No augmentation. */
    public static Augmentation none() {
        return new Augmentation(0, 0, 1, 1, 0);
    }

    /** This augmentation with the crop's side drawn uniformly in {@code [min, max]} of the image side. */
    public Augmentation withCropScale(double min, double max) {
        return new Augmentation(flipProbability, maxRotationDegrees, min, max, cropProbability);
    }

    /** This augmentation with the crop taken with probability {@code p}. */
    public Augmentation withCropProbability(double p) {
        return new Augmentation(flipProbability, maxRotationDegrees, minCropScale, maxCropScale, p);
    }

    /** Whether every draw is the identity. */
    public boolean isIdentity() {
        return flipProbability == 0 && maxRotationDegrees == 0 && (cropProbability == 0 || minCropScale == 1);
    }

    /** Expected crop side as a fraction of the image side (1 = no crop), e.g. 0.8 for {@link #paper()}. */
    public double meanCropScale() {
        return 1 - cropProbability + cropProbability * (minCropScale + maxCropScale) / 2;
    }

    /**
     * Draws one item's parameters for images of side {@code size}. Always consumes the same six
     * values from {@code rng} in the same order (flip, angle, crop?, x, y, scale), so a change of one
     * setting does not shift the other draws.
     */
    public AugmentParams sample(SplittableRandom rng, int size) {
        double uFlip = rng.nextDouble();
        double uAngle = rng.nextDouble();
        double uCrop = rng.nextDouble();
        double uX = rng.nextDouble();
        double uY = rng.nextDouble();
        double uScale = rng.nextDouble();
        boolean flip = uFlip < flipProbability;
        double angle = (2 * uAngle - 1) * maxRotationDegrees;
        int side = size;
        int x0 = 0;
        int y0 = 0;
        if (uCrop < cropProbability) {
            double scale = minCropScale + uScale * (maxCropScale - minCropScale);
            side = Math.max(1, Math.min(size, (int) Math.round(scale * size)));
            int room = size - side;
            x0 = Math.min(room, (int) Math.floor(uX * (room + 1)));
            y0 = Math.min(room, (int) Math.floor(uY * (room + 1)));
        }
        return new AugmentParams(flip, angle, side, x0, y0);
    }

    /** The settings as strings, for checkpoint provenance and run configurations. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("flip_probability", fmt(flipProbability));
        m.put("max_rotation_degrees", fmt(maxRotationDegrees));
        m.put("crop_scale", fmt(minCropScale) + "," + fmt(maxCropScale));
        m.put("crop_probability", fmt(cropProbability));
        return m;
    }

    private static String fmt(double v) {
        return String.format(Locale.ROOT, "%s", v);
    }
}
