package org.arunet.eval;

/**
 * Lesion (foreground = any class above 0) scores of one image.
 *
 * <p>Rules for empty masks (BUSI's "normal" images have an empty ground truth):
 * <ul>
 *   <li>truth and prediction both empty: Dice = IoU = 1 (a correct "no lesion"); HD95 undefined (NaN).
 *   <li>truth empty, prediction not: Dice = IoU = 0; HD95 undefined (NaN).
 *   <li>truth not empty, prediction empty: Dice = IoU = 0; HD95 = the image diagonal (the worst
 *       possible), so that missed lesions count against HD95 instead of vanishing from it.
 * </ul>
 * Means of HD95 are taken over the images where it is defined; {@link Evaluation} reports how many.
 *
 * @param id image identifier
 * @param dice {@code 2|A∩B| / (|A| + |B|)}
 * @param iou {@code |A∩B| / |A∪B|}
 * @param hd95 95th-percentile symmetric boundary distance in pixels (NaN when undefined)
 * @param truthPixels lesion pixels in the ground truth
 * @param predPixels lesion pixels in the prediction
 * @param pixelAccuracy correct pixels / all pixels (all classes)
 * @param meanIoU mean IoU over the classes present in truth or prediction, background included
 */
public record ImageScore(
        String id,
        double dice,
        double iou,
        double hd95,
        long truthPixels,
        long predPixels,
        double pixelAccuracy,
        double meanIoU) {

    /** Scores one image from class-index maps of {@code h x w} pixels. */
    public static ImageScore of(String id, int[] truth, int[] pred, int h, int w, int classes) {
        if (truth.length != (long) h * w || pred.length != (long) h * w) {
            throw new IllegalArgumentException(id + ": masks of " + truth.length + " and " + pred.length
                    + " pixels for a " + w + "x" + h + " image");
        }
        boolean[] a = new boolean[truth.length];
        boolean[] b = new boolean[pred.length];
        long inter = 0;
        long na = 0;
        long nb = 0;
        for (int i = 0; i < truth.length; i++) {
            a[i] = truth[i] > 0;
            b[i] = pred[i] > 0;
            if (a[i]) {
                na++;
            }
            if (b[i]) {
                nb++;
            }
            if (a[i] && b[i]) {
                inter++;
            }
        }
        double dice;
        double iou;
        double hd95;
        if (na == 0 && nb == 0) {
            dice = 1;
            iou = 1;
            hd95 = Double.NaN;
        } else {
            dice = 2.0 * inter / (na + nb);
            iou = (double) inter / (na + nb - inter);
            if (na == 0) {
                hd95 = Double.NaN;
            } else if (nb == 0) {
                hd95 = Math.hypot(h, w);
            } else {
                hd95 = SurfaceDistance.hd95(a, b, h, w);
            }
        }
        ConfusionMatrix cm = new ConfusionMatrix(classes);
        cm.add(truth, pred);
        return new ImageScore(id, dice, iou, hd95, na, nb, cm.accuracy(), cm.meanIoU());
    }
}
