package org.arunet.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.arunet.data.sample.BusiMini;
import org.arunet.infer.Segmenter;
import org.arunet.infer.StreamOptions;
import org.arunet.video.SyntheticClip;
import org.arunet.video.VideoFiles;

/** {@code arunet bench --video}: real-time cine segmentation timed end to end. */
final class VideoBench {
    private VideoBench() {}

    static int run(BenchCommand b) throws Exception {
        if (b.train || b.vs != null) {
            throw new Errors.UsageException("--video times inference on a clip; leave out --train and --vs");
        }
        Path tmp = Files.createTempDirectory("arunet-video-bench");
        try {
            Path clip = b.video.equals("sample") ? makeSample(b, tmp) : Path.of(b.video);
            if (!VideoFiles.isVideoFile(clip)) {
                throw new Errors.UsageException("--video " + b.video + ": not a video file (extensions: "
                        + String.join(
                                ", ", VideoFiles.EXTENSIONS.stream().sorted().toList()) + ") nor 'sample'");
            }
            Path model = ModelRef.resolve("--checkpoint", b.checkpoint);
            Map<String, Object> r = new LinkedHashMap<>();
            try (Segmenter seg = Segmenter.builder(model)
                    .device(b.compute.device)
                    .threads(b.compute.threads)
                    .precision(b.compute.precision)
                    .build()) {
                ColorMode mode = seg.preprocessing().colorMode();
                b.info().println("warm-up pass over " + clip.getFileName());
                Cine.run(
                        seg,
                        VideoFiles.open(clip, mode),
                        StreamOptions.defaults(),
                        tmp.resolve("warm.mp4"),
                        null,
                        null);
                b.info().println("timed pass, frames read as fast as the pipeline takes them");
                Map<String, Object> fast = Cine.run(
                        seg,
                        VideoFiles.open(clip, mode),
                        StreamOptions.defaults(),
                        tmp.resolve("fast.mp4"),
                        null,
                        null);
                double rate;
                try (var src = VideoFiles.open(clip, mode)) {
                    rate = src.frameRate();
                }
                b.info().printf(Locale.ROOT, "paced pass, frames read at the clip's %.1f frames/s%n", rate);
                Map<String, Object> live = Cine.run(
                        seg,
                        VideoFiles.open(clip, mode),
                        StreamOptions.defaults().withMaxFps(rate),
                        tmp.resolve("live.mp4"),
                        null,
                        null);
                r.put("video", b.video.equals("sample") ? "sample (" + clip.getFileName() + ")" : clip.toString());
                r.put("checkpoint", b.checkpoint);
                r.put("device", b.compute.device);
                r.put("threads", b.compute.threads);
                r.put("precision", b.compute.precision.name().toLowerCase(Locale.ROOT));
                r.put("frames", fast.get("frames"));
                r.put("clip_frame_rate", rate);
                r.put("frames_per_second", fast.get("frames_per_second"));
                r.put("overlay_codec", fast.get("overlay_codec"));
                fast.remove("overlay_video"); // a temporary file, deleted below
                live.remove("overlay_video");
                fast.put("input", r.get("video"));
                live.put("input", r.get("video"));
                r.put("unpaced", fast);
                r.put("paced", live);
                r.put("paced_latency_ms_p50", live.get("latency_ms_p50"));
                r.put("paced_latency_ms_p99", live.get("latency_ms_p99"));
                r.put("paced_frames_per_second", live.get("frames_per_second"));
                r.put("peak_rss_mb", BenchCommand.peakRssMb());
            }
            if (b.json) {
                b.printJson(r);
            } else {
                System.out.printf(
                        Locale.ROOT,
                        "%s: %d frames, end to end (decode, segment, overlay, encode %s): %.1f frames/s unpaced;"
                                + " read at %.1f frames/s: %.1f frames/s, latency p50 %.1f ms, p99 %.1f ms%n",
                        r.get("video"),
                        (Integer) r.get("frames"),
                        r.get("overlay_codec"),
                        (Double) r.get("frames_per_second"),
                        rate(r),
                        (Double) r.get("paced_frames_per_second"),
                        (Double) r.get("paced_latency_ms_p50"),
                        (Double) r.get("paced_latency_ms_p99"));
            }
            return 0;
        } finally {
            try (Stream<Path> s = Files.walk(tmp)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static double rate(Map<String, Object> r) {
        return (Double) r.get("clip_frame_rate");
    }

    /** A clip from the bundled sample's first benign image, at --video-size. */
    private static Path makeSample(BenchCommand b, Path tmp) throws IOException {
        if (b.videoFrames < 1 || b.videoFrames > 100_000) {
            throw new Errors.UsageException("--video-frames must be in 1..100000");
        }
        Path dir = BusiMini.extractTo(tmp.resolve("busi-mini"));
        ImageReader reader = new ImageReader();
        Raster image = reader.readImage(dir.resolve("images/benign_028.png"), ColorMode.RGB);
        Raster mask = reader.readMask(dir.resolve("masks/benign_028.png"), 2);
        if (b.videoSize != null) {
            String[] wh = b.videoSize.toLowerCase(Locale.ROOT).split("x");
            int w;
            int h;
            try {
                w = Integer.parseInt(wh[0]);
                h = Integer.parseInt(wh[1]);
            } catch (RuntimeException e) {
                throw new Errors.UsageException("--video-size " + b.videoSize + ": expected WxH, e.g. 640x480");
            }
            if (wh.length != 2 || w < 16 || h < 16 || w > 4096 || h > 4096) {
                throw new Errors.UsageException("--video-size " + b.videoSize + ": sides must be in 16..4096");
            }
            image = OpenCv.resize(image, w, h, OpenCv.Interpolation.SMOOTH);
            mask = OpenCv.resize(mask, w, h, OpenCv.Interpolation.NEAREST);
        }
        Path clip = tmp.resolve("sample-" + image.width() + "x" + image.height() + ".mp4");
        b.info().printf("making a %d-frame %dx%d sample clip%n", b.videoFrames, image.width(), image.height());
        SyntheticClip.write(SyntheticClip.make(image, mask, b.videoFrames, 0, 1), clip, 30);
        return clip;
    }
}
