package org.arunet.fiji;

import ij.ImagePlus;
import ij.ImageStack;
import ij.gui.Roi;
import ij.plugin.filter.ThresholdToSelection;
import ij.process.ByteProcessor;
import ij.process.ColorProcessor;
import ij.process.FloatProcessor;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.arunet.data.io.Raster;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.arunet.pretrained.PretrainedModels;

/**
 * The plugin's work, without any window: segments an {@link ImagePlus} (the image, or every slice of a
 * stack) with a shipped model or a checkpoint and returns the lesion outlines as ROIs and the lesion
 * probability map as a 32-bit stack. {@link SegmentLesion} shows the dialog and puts the results on
 * screen; tests call this class headless.
 *
 * <p>Pixels: 8-bit and 16-bit images as they are (grey), RGB as colour (a grey model reads it as grey),
 * 32-bit images scaled from their display range to 16 bits. The model resizes each slice to its input
 * size and the probabilities back, as {@code arunet predict} does.
 */
public final class LesionSegmentation {
    private LesionSegmentation() {}

    /**
     * What to run.
     *
     * @param model a shipped model's name (e.g. busi-compact) or a checkpoint file
     * @param device cpu, cuda or auto
     * @param tta average with the mirrored image's prediction
     * @param largestComponent keep only the largest lesion per slice
     */
    public record Options(String model, String device, boolean tta, boolean largestComponent) {
        public Options {
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(device, "device");
        }
    }

    /**
     * The results.
     *
     * @param rois one outline per slice that has a lesion, named {@code lesion <slice>} and positioned on
     *     its slice (position 0 for a single image)
     * @param probabilities lesion probability per pixel (32-bit, one slice per input slice, the input's
     *     calibration)
     * @param lesionPixels lesion pixels per slice
     */
    public record Result(List<Roi> rois, ImagePlus probabilities, long[] lesionPixels) {}

    /** Opens the model: a shipped model by name, else a checkpoint file. */
    public static Segmenter open(Options o) throws IOException {
        Path checkpoint = PretrainedModels.onClassPath().contains(o.model())
                ? PretrainedModels.onClassPath().checkpoint(o.model())
                : Path.of(o.model());
        return Segmenter.builder(checkpoint)
                .device(o.device())
                .flipTta(o.tta())
                .largestComponent(o.largestComponent())
                .build();
    }

    /** Segments every slice of {@code imp} with a new segmenter for {@code o}. */
    public static Result run(ImagePlus imp, Options o) throws IOException {
        try (Segmenter s = open(o)) {
            return run(imp, s);
        }
    }

    /** Segments every slice of {@code imp} with {@code segmenter}. */
    public static Result run(ImagePlus imp, Segmenter segmenter) {
        ImageStack stack = imp.getStack();
        int n = stack.getSize();
        int w = imp.getWidth();
        int h = imp.getHeight();
        ImageStack probs = new ImageStack(w, h);
        List<Roi> rois = new ArrayList<>();
        long[] pixels = new long[n];
        for (int slice = 1; slice <= n; slice++) {
            Segmentation seg = segmenter.segment(toRaster(stack.getProcessor(slice)));
            probs.addSlice(stack.getSliceLabel(slice), new FloatProcessor(w, h, seg.lesionProbability()));
            pixels[slice - 1] = seg.lesionPixels();
            Roi roi = outline(seg);
            if (roi != null) {
                roi.setName(n == 1 ? "lesion" : "lesion " + slice);
                roi.setPosition(n == 1 ? 0 : slice);
                rois.add(roi);
            }
        }
        ImagePlus p = new ImagePlus("lesion probability of " + imp.getTitle(), probs);
        p.setCalibration(imp.getCalibration().copy());
        p.getProcessor().setMinAndMax(0, 1);
        return new Result(rois, p, pixels);
    }

    /** The outline of the lesion pixels (a composite ROI when there are several), or null when there are none. */
    static Roi outline(Segmentation seg) {
        byte[] m = new byte[seg.mask().length];
        boolean any = false;
        for (int i = 0; i < m.length; i++) {
            if (seg.mask()[i] != 0) {
                m[i] = (byte) 255;
                any = true;
            }
        }
        if (!any) {
            return null;
        }
        ByteProcessor bp = new ByteProcessor(seg.width(), seg.height(), m);
        bp.setThreshold(255, 255, ImageProcessor.NO_LUT_UPDATE);
        return new ThresholdToSelection().convert(bp);
    }

    /** One slice as a raster: 8/16-bit grey as stored, RGB as colour, 32-bit scaled from its display range. */
    static Raster toRaster(ImageProcessor ip) {
        int w = ip.getWidth();
        int h = ip.getHeight();
        if (ip instanceof ByteProcessor) {
            return new Raster(w, h, 1, 8, ((byte[]) ip.getPixels()).clone());
        }
        if (ip instanceof ShortProcessor) {
            short[] px = (short[]) ip.getPixels();
            Raster r = new Raster(w, h, 1, 16, new byte[2 * px.length]);
            for (int i = 0; i < px.length; i++) {
                r.setSample(i, px[i] & 0xFFFF);
            }
            return r;
        }
        if (ip instanceof ColorProcessor) {
            int[] px = (int[]) ip.getPixels();
            byte[] rgb = new byte[3 * px.length];
            for (int i = 0; i < px.length; i++) {
                rgb[3 * i] = (byte) (px[i] >> 16);
                rgb[3 * i + 1] = (byte) (px[i] >> 8);
                rgb[3 * i + 2] = (byte) px[i];
            }
            return new Raster(w, h, 3, 8, rgb);
        }
        float[] px = (float[]) ip.getPixels();
        double lo = ip.getMin();
        double hi = ip.getMax();
        Raster r = new Raster(w, h, 1, 16, new byte[2 * px.length]);
        for (int i = 0; i < px.length; i++) {
            double v = hi > lo ? (px[i] - lo) / (hi - lo) : 0;
            r.setSample(i, (int) Math.round(Math.max(0, Math.min(1, Double.isNaN(v) ? 0 : v)) * 65535));
        }
        return r;
    }
}
