package org.arunet.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.arunet.data.io.Raster;
import org.arunet.data.video.FrameSource;
import org.arunet.infer.FrameSegmentation;
import org.arunet.infer.Segmentation;
import org.arunet.infer.SegmentationStream;
import org.arunet.infer.Segmenter;
import org.arunet.infer.StreamException;
import org.arunet.infer.StreamOptions;
import org.arunet.report.Overlays;
import org.arunet.video.VideoWriter;

/**
 * One clip through the streaming segmenter, the caller's thread encoding: an overlay video and a
 * per-frame CSV (both optional), frames/s and latencies. Shared by {@code predict} and {@code bench --video}.
 */
final class Cine {
    static final String CSV_HEADER = "frame,time_s,lesion_pixels,lesion_area_mm2,bbox_x,bbox_y,bbox_w,bbox_h,"
            + "mean_lesion_probability,latency_ms";

    private Cine() {}

    /**
     * Segments every frame of {@code source} (closed by the stream). A damaged or stalled source ends the run
     * with what was written kept (the video finished, the CSV flushed) and its error in the result.
     *
     * @param overlay the overlay video to write, or null
     * @param csv the per-frame CSV to write, or null
     */
    static Map<String, Object> run(
            Segmenter seg, FrameSource source, StreamOptions options, Path overlay, Path csv, PrintStream progress)
            throws IOException {
        String name = source.name();
        String noSpacing = source.spacing().isPresent() ? null : source.noSpacingReason();
        double rate = source.frameRate();
        int declared = source.declaredFrames();
        long[] total = new long[256];
        int n = 0;
        String error = null;
        VideoWriter writer = null;
        BufferedWriter rows = null;
        Raster canvas = null;
        long start = System.nanoTime();
        long lastReport = start;
        double streamFps;
        double segP50;
        double segP99;
        try (SegmentationStream stream = seg.stream(source, options)) {
            if (csv != null) {
                Files.createDirectories(csv.toAbsolutePath().getParent());
                rows = Files.newBufferedWriter(csv, StandardCharsets.UTF_8);
                rows.write(CSV_HEADER + "\n");
            }
            try {
                for (FrameSegmentation f; (f = stream.next()) != null; ) {
                    long delivered = System.nanoTime();
                    Segmentation s = f.segmentation();
                    if (overlay != null) {
                        canvas = Overlays.drawRgb(f.image(), s.mask(), canvas);
                        if (writer == null) {
                            writer = VideoWriter.create(overlay, canvas.width(), canvas.height(), rate, 3);
                        }
                        writer.write(canvas);
                    }
                    long done = System.nanoTime();
                    // end to end: from the read of the frame to its overlay encoded
                    long latency = f.latencyNanos() + (done - delivered);
                    if (n == total.length) {
                        total = Arrays.copyOf(total, n * 2);
                    }
                    total[n++] = latency;
                    if (rows != null) {
                        rows.write(row(f, s, latency));
                        rows.flush(); // a stopped run keeps every row it finished
                    }
                    if (progress != null && done - lastReport > 2_000_000_000L) {
                        progress.printf(
                                Locale.ROOT,
                                "%s: frame %d%s, %.1f frames/s%n",
                                name,
                                n,
                                declared > 0 ? " of about " + declared : "",
                                n / ((done - start) / 1e9));
                        lastReport = done;
                    }
                }
            } catch (StreamException e) {
                error = e.getMessage();
            }
            streamFps = stream.framesPerSecond();
            segP50 = stream.latencyMs(0.5);
            segP99 = stream.latencyMs(0.99);
        } finally {
            try {
                if (writer != null) {
                    writer.close();
                }
            } finally {
                if (rows != null) {
                    rows.close();
                }
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("input", name);
        r.put("frames", n);
        r.put("frame_rate", rate);
        r.put("seconds", seconds);
        r.put("frames_per_second", n / seconds);
        r.put("latency_ms_p50", quantile(total, n, 0.5));
        r.put("latency_ms_p99", quantile(total, n, 0.99));
        r.put("segmentation_frames_per_second", streamFps);
        r.put("segmentation_latency_ms_p50", segP50);
        r.put("segmentation_latency_ms_p99", segP99);
        r.put("smoothing", options.smoothing());
        if (overlay != null) {
            r.put("overlay_video", overlay.toString());
            r.put("overlay_codec", writer == null ? null : writer.codec());
        }
        if (csv != null) {
            r.put("frames_csv", csv.toString());
        }
        if (noSpacing != null) {
            r.put("no_pixel_spacing", noSpacing);
        }
        r.put("error", error);
        return r;
    }

    private static String row(FrameSegmentation f, Segmentation s, long latencyNanos) {
        int[] b = s.boundingBox();
        double mm2 = s.lesionAreaMm2().orElse(Double.NaN);
        double p = s.meanLesionProbability();
        return String.format(
                Locale.ROOT,
                "%d,%.6f,%d,%s,%s,%s,%s,%s,%s,%.3f%n",
                f.index(),
                f.timeSeconds(),
                s.lesionPixels(),
                Double.isNaN(mm2) ? "" : String.format(Locale.ROOT, "%.4f", mm2),
                b == null ? "" : b[0],
                b == null ? "" : b[1],
                b == null ? "" : b[2],
                b == null ? "" : b[3],
                Double.isNaN(p) ? "" : String.format(Locale.ROOT, "%.5f", p),
                latencyNanos / 1e6);
    }

    static double quantile(long[] v, int n, double q) {
        if (n == 0) {
            return Double.NaN;
        }
        long[] s = Arrays.copyOf(v, n);
        Arrays.sort(s);
        return s[Math.max(0, Math.min(n - 1, (int) Math.ceil(q * n) - 1))] / 1e6;
    }
}
