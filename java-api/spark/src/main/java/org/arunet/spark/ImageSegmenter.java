package org.arunet.spark;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import javax.imageio.ImageIO;
import javax.imageio.stream.ImageOutputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import org.arunet.data.io.DataException;
import org.arunet.data.io.ImageFrames;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.PixelSpacing;
import org.arunet.data.io.Raster;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;

/**
 * The work of one row, without Spark: decodes a file's bytes, segments each of its frames with a shared
 * {@link Segmenter} and measures the result as {@code arunet predict --csv} does. A file that cannot be
 * read or segmented gives one row with its error; it never throws for bad data. Thread-safe (the
 * segmenter is, and the reader is stateless).
 */
public final class ImageSegmenter {
    private final Segmenter segmenter;
    private final String model;
    private final String modelVersion;
    private final boolean masks;
    private final ImageReader reader = new ImageReader();

    /**
     * @param segmenter the model (not closed here: it belongs to whoever created it)
     * @param model the model's name, for the rows
     * @param modelVersion the model's version, for the rows
     * @param masks whether rows carry the mask PNG
     */
    public ImageSegmenter(Segmenter segmenter, String model, String modelVersion, boolean masks) {
        this.segmenter = Objects.requireNonNull(segmenter, "segmenter");
        this.model = Objects.requireNonNull(model, "model");
        this.modelVersion = Objects.requireNonNull(modelVersion, "modelVersion");
        this.masks = masks;
    }

    /** The rows of one file: one per frame, or one error row. */
    public List<FrameResult> segment(String path, byte[] content) {
        if (content == null) {
            return List.of(FrameResult.failed(path, model, modelVersion, path + ": no content (null bytes)"));
        }
        List<FrameResult> rows = new ArrayList<>();
        try {
            ImageFrames frames = reader.open(
                    localName(path), content, segmenter.preprocessing().colorMode());
            PixelSpacing spacing = frames.spacing().orElse(null);
            String spacingSource = spacing != null ? spacing.source() : "none: " + frames.noSpacingReason();
            int n = frames.count();
            for (int i = 0; i < n; i++) {
                Raster image = frames.frame(i);
                Segmentation s = segmenter.segment(image).withSpacing(spacing);
                rows.add(measure(path, n == 1 ? 0 : i + 1, s, spacingSource));
            }
            return rows;
        } catch (DataException e) {
            return List.of(FrameResult.failed(path, model, modelVersion, path + ": " + e.problem()));
        } catch (RuntimeException e) { // e.g. an OpenCV error on a file the header checks let through
            String why = e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
            return List.of(FrameResult.failed(path, model, modelVersion, path + ": " + why));
        }
    }

    private FrameResult measure(String path, int frame, Segmentation s, String spacingSource) {
        double mean = s.meanLesionProbability();
        PixelSpacing sp = s.spacing();
        return new FrameResult(
                path,
                frame,
                s.width(),
                s.height(),
                masks ? png(s) : null,
                s.lesionPixels(),
                s.lesionFraction(),
                s.lesionAreaMm2().isPresent() ? s.lesionAreaMm2().getAsDouble() : null,
                s.boundingBox(),
                Double.isNaN(mean) ? null : mean,
                sp == null ? null : sp.rowMm(),
                sp == null ? null : sp.columnMm(),
                spacingSource,
                model,
                modelVersion,
                null);
    }

    /** The mask as PNG bytes: the same encoder and image as {@link Segmentation#writeMask}. */
    static byte[] png(Segmentation s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(4096);
        // In memory: ImageIO.write(img, "png", OutputStream) would cache through a temporary file.
        try (ImageOutputStream ios = new MemoryCacheImageOutputStream(out)) {
            if (!ImageIO.write(s.maskImage(), "png", ios)) {
                throw new IllegalStateException("no PNG writer available");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return out.toByteArray();
    }

    /**
     * A {@link Path} naming the file in the reader's messages: the local path of a {@code file:} URI,
     * else the text as it is (errors are reported with the input's own {@code path} anyway).
     */
    static Path localName(String path) {
        try {
            URI u = new URI(path);
            if ("file".equalsIgnoreCase(u.getScheme())) {
                return Path.of(u);
            }
        } catch (URISyntaxException | IllegalArgumentException e) {
            // not a URI: a plain path
        }
        try {
            return Path.of(path);
        } catch (InvalidPathException e) {
            return Path.of(path.replace('\0', '?'));
        }
    }
}
