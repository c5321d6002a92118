package org.arunet.data.augment;

import java.util.SplittableRandom;

/**
 * The online augmentation of the ARU-Net paper, applied to an image already resized to S x S:
 * random horizontal flip, random rotation, random crop of a fraction of the side, resized back to
 * S x S. The three steps are composed into one affine map ({@link AugmentParams#inverseMatrix}) and
 * applied once, bilinear to the image and nearest-neighbour to the mask, so both get exactly the
 * same geometry and the image is interpolated only once. Areas rotated in from outside the image are
 * black (image) and background (mask).
 *
 * @param flipProbability probability of a horizontal flip, in [0, 1]
 * @param maxRotationDegrees the angle is uniform in {@code [-max, max]} degrees, max in [0, 180]
 * @param cropFraction side of the square crop as a fraction of S, in (0, 1]; its position is uniform
 *     over the integer offsets that keep it inside the image
 * @param cropProbability probability that the crop is taken (otherwise the whole image is kept)
 */
public record Augmentation(double flipProbability, double maxRotationDegrees, double cropFraction,
        double cropProbability) {
    public Augmentation {
        if (!(flipProbability >= 0 && flipProbability <= 1) || !(cropProbability >= 0 && cropProbability <= 1)) {
            throw new IllegalArgumentException("probabilities must be in [0, 1], got flip " + flipProbability
                    + ", crop " + cropProbability);
        }
        if (!(maxRotationDegrees >= 0 && maxRotationDegrees <= 180)) {
            throw new IllegalArgumentException("maxRotationDegrees must be in [0, 180], got " + maxRotationDegrees);
        }
        if (!(cropFraction > 0 && cropFraction <= 1)) {
            throw new IllegalArgumentException("cropFraction must be in (0, 1], got " + cropFraction);
        }
    }

    /** The paper's protocol: flip with probability 0.5, rotation in [-10, 10] degrees, always an 80 % crop. */
    public static Augmentation paper() {
        return new Augmentation(0.5, 10, 0.8, 1.0);
    }

    /** No augmentation. */
    public static Augmentation none() {
        return new Augmentation(0, 0, 1, 0);
    }

    /** Whether every draw is the identity. */
    public boolean isIdentity() {
        return flipProbability == 0 && maxRotationDegrees == 0 && (cropProbability == 0 || cropFraction == 1);
    }

    /**
     * Draws one item's parameters for images of side {@code size}. Always consumes the same five
     * values from {@code rng} in the same order (flip, angle, crop?, x, y), so a change of one
     * probability does not shift the other draws.
     */
    public AugmentParams sample(SplittableRandom rng, int size) {
        double uFlip = rng.nextDouble();
        double uAngle = rng.nextDouble();
        double uCrop = rng.nextDouble();
        double uX = rng.nextDouble();
        double uY = rng.nextDouble();
        boolean flip = uFlip < flipProbability;
        double angle = (2 * uAngle - 1) * maxRotationDegrees;
        int side = size;
        int x0 = 0;
        int y0 = 0;
        if (uCrop < cropProbability) {
            side = Math.max(1, (int) Math.round(cropFraction * size));
            int room = size - side;
            x0 = Math.min(room, (int) Math.floor(uX * (room + 1)));
            y0 = Math.min(room, (int) Math.floor(uY * (room + 1)));
        }
        return new AugmentParams(flip, angle, side, x0, y0);
    }
}
