package org.arunet.data.loader;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;

/**
 * How an image becomes a network input, the same way for training ({@link SegmentationBatchSource})
 * and inference: read as grey ({@code channels = 1}) or as it is stored ({@code channels = 3}, grey
 * replicated), resized to {@code imageSize x imageSize} (area averaging when shrinking, bilinear when
 * enlarging), normalised by {@link Normalization}. A checkpoint records it ({@link #toMap()}) so that a
 * segmenter reproduces the training input exactly.
 *
 * @param imageSize side of the square network input
 * @param channels 1 or 3
 * @param normalization value mapping
 */
public record Preprocessing(int imageSize, int channels, Normalization normalization) {

    public Preprocessing {
        if (imageSize < 1 || (channels != 1 && channels != 3) || normalization == null) {
            throw new IllegalArgumentException("preprocessing needs image size >= 1, channels 1 or 3 and a"
                    + " normalization, got " + imageSize + ", " + channels + ", " + normalization);
        }
    }

    public static Preprocessing of(LoaderConfig c) {
        return new Preprocessing(c.imageSize(), c.channels(), c.normalization());
    }

    /** How images are read for this preprocessing. */
    public ColorMode colorMode() {
        return channels == 1 ? ColorMode.GREY : ColorMode.AUTO;
    }

    /** The image resized and normalised: {@code imageSize x imageSize x channels} floats, row-major HWC. */
    public float[] apply(Raster image) {
        float[] out = new float[imageSize * imageSize * channels];
        apply(image, out, 0);
        return out;
    }

    /** Writes the preprocessed image at {@code offset} of {@code out}. */
    public void apply(Raster image, float[] out, int offset) {
        if (image.channels() != 1 && image.channels() != 3) {
            throw new IllegalArgumentException("images must have 1 or 3 channels here, got " + image.channels());
        }
        if (channels == 1 && image.channels() != 1) {
            throw new IllegalArgumentException("a 1-channel model needs a grey image (read it with ColorMode.GREY)");
        }
        Raster r = OpenCv.resize(image, imageSize, imageSize, OpenCv.Interpolation.SMOOTH);
        int plane = imageSize * imageSize;
        int bits = r.bitDepth();
        for (int i = 0; i < plane; i++) {
            for (int ch = 0; ch < channels; ch++) {
                int v = r.sample(r.channels() == channels ? (long) i * channels + ch : i);
                out[offset + i * channels + ch] = normalization.apply(v, ch, bits);
            }
        }
    }

    /** String pairs for checkpoint metadata. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("image_size", Integer.toString(imageSize));
        m.put("channels", Integer.toString(channels));
        StringBuilder mean = new StringBuilder();
        StringBuilder std = new StringBuilder();
        for (int c = 0; c < normalization.definedChannels(); c++) {
            mean.append(c == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", normalization.mean(c)));
            std.append(c == 0 ? "" : ",").append(String.format(Locale.ROOT, "%s", normalization.std(c)));
        }
        m.put("mean", mean.toString());
        m.put("std", std.toString());
        m.put("resize", "area when shrinking, bilinear when enlarging");
        return m;
    }

    /** Inverse of {@link #toMap()}; throws {@link IllegalArgumentException} naming a bad entry. */
    public static Preprocessing fromMap(Map<String, String> m) {
        try {
            int size = Integer.parseInt(req(m, "image_size"));
            int ch = Integer.parseInt(req(m, "channels"));
            double[] mean = parse(req(m, "mean"));
            double[] std = parse(req(m, "std"));
            Normalization n =
                    mean.length == 1 ? Normalization.of(mean[0], std[0]) : Normalization.perChannel(mean, std);
            return new Preprocessing(size, ch, n);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid preprocessing " + m + ": " + e.getMessage(), e);
        }
    }

    private static String req(Map<String, String> m, String k) {
        String v = m.get(k);
        if (v == null) {
            throw new IllegalArgumentException("preprocessing lacks '" + k + "': " + m);
        }
        return v;
    }

    private static double[] parse(String s) {
        String[] parts = s.split(",");
        double[] v = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            v[i] = Double.parseDouble(parts[i].trim());
        }
        return v;
    }
}
