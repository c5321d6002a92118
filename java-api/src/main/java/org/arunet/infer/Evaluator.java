package org.arunet.infer;

import java.util.List;
import java.util.Objects;
import org.arunet.data.dataset.Sample;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.eval.Evaluation;
import org.arunet.eval.ImageScore;

/**
 * Evaluates a {@link Segmenter} on image/mask samples at each image's own resolution (the prediction
 * is resized back to the image before scoring; nothing is scored at the network's input size).
 */
public final class Evaluator {
    /** Called after each image, e.g. to draw overlays or report progress. */
    public interface Listener {
        void onImage(
                int index,
                int total,
                Sample sample,
                Raster image,
                byte[] truth,
                Segmentation prediction,
                ImageScore score);
    }

    private Evaluator() {}

    /**
     * @throws DataException naming the file when an image or mask is unreadable or their sizes differ
     */
    public static Evaluation evaluate(Segmenter segmenter, List<Sample> samples, Listener listener) {
        Objects.requireNonNull(segmenter, "segmenter");
        if (samples.isEmpty()) {
            throw new IllegalArgumentException("no images to evaluate");
        }
        int classes = segmenter.classes();
        ImageReader reader = new ImageReader();
        Evaluation ev = new Evaluation(classes);
        int i = 0;
        for (Sample s : samples) {
            Raster image = reader.readImage(s.image(), segmenter.preprocessing().colorMode());
            Raster mask = reader.readMask(s.masks(), classes);
            if (mask.width() != image.width() || mask.height() != image.height()) {
                throw new DataException(
                        s.masks().get(0),
                        "mask is " + mask.width() + "x" + mask.height() + " but image " + s.image() + " is "
                                + image.width() + "x" + image.height());
            }
            Segmentation pred = segmenter.segment(image);
            byte[] truth = mask.data();
            int[] t = new int[truth.length];
            for (int p = 0; p < t.length; p++) {
                t[p] = truth[p] & 0xFF;
            }
            ImageScore score = ev.add(s.id(), s.label(), t, pred.classMap(), image.height(), image.width());
            if (listener != null) {
                listener.onImage(i, samples.size(), s, image, truth, pred, score);
            }
            i++;
        }
        return ev;
    }
}
