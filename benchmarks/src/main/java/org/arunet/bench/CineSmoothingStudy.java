package org.arunet.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.arunet.backend.Precision;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.sample.BusiMini;
import org.arunet.data.video.FrameSource;
import org.arunet.data.video.VideoFrame;
import org.arunet.infer.FrameSegmentation;
import org.arunet.infer.SegmentationStream;
import org.arunet.infer.Segmenter;
import org.arunet.infer.StreamOptions;
import org.arunet.pretrained.PretrainedModels;
import org.arunet.video.SyntheticClip;

/**
 * The effect of the streaming segmenter's temporal smoothing on synthetic clips with known masks: for
 * each noise level and smoothing weight, the mean Dice against the true masks and the frame-to-frame
 * flicker (mean 1 - Dice of consecutive predicted masks), over clips made from the bundled sample's
 * lesion images. Prints a Markdown table.
 *
 * <pre>java -cp benchmarks/target/benchmarks.jar org.arunet.bench.CineSmoothingStudy [frames] [threads]</pre>
 */
public final class CineSmoothingStudy {
    private CineSmoothingStudy() {}

    public static void main(String[] args) throws Exception {
        int frames = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        List<String> images =
                List.of("benign_028", "benign_036", "benign_040", "malignant_011", "malignant_021", "malignant_054");
        double[] noises = {0, 20, 40};
        double[] weights = {1, 0.7, 0.5, 0.3};
        Path dir = BusiMini.extractTo(Files.createTempDirectory("arunet-smoothing"));
        ImageReader reader = new ImageReader();
        System.out.printf(
                "%d clips of %d frames (the sample's %s), busi-compact, fp32, %d threads%n%n",
                images.size(), frames, String.join(", ", images), threads);
        System.out.println("| noise (grey levels, s.d.) | smoothing weight a | mean Dice vs truth | flicker |");
        System.out.println("|---|---|---|---|");
        try (Segmenter seg = Segmenter.builder(PretrainedModels.onClassPath().checkpoint("busi-compact"))
                .device("cpu")
                .threads(threads)
                .precision(Precision.F32)
                .build()) {
            for (double noise : noises) {
                SyntheticClip.Frames[] clips = new SyntheticClip.Frames[images.size()];
                for (int i = 0; i < clips.length; i++) {
                    Raster image = reader.readImage(dir.resolve("images/" + images.get(i) + ".png"), ColorMode.RGB);
                    Raster mask = reader.readMask(dir.resolve("masks/" + images.get(i) + ".png"), 2);
                    clips[i] = SyntheticClip.make(image, mask, frames, noise, 11 + i);
                }
                for (double a : weights) {
                    double dice = 0;
                    double flicker = 0;
                    for (SyntheticClip.Frames clip : clips) {
                        byte[] prev = null;
                        try (SegmentationStream s = seg.stream(
                                new Memory(clip.images()),
                                StreamOptions.defaults().withSmoothing(a))) {
                            for (FrameSegmentation f; (f = s.next()) != null; ) {
                                byte[] m = f.segmentation().mask();
                                dice += dice(m, clip.masks().get(f.index()));
                                if (prev != null) {
                                    flicker += 1 - dice(m, prev);
                                }
                                prev = m;
                            }
                        }
                    }
                    System.out.printf(
                            Locale.ROOT,
                            "| %.0f | %s | %.4f | %.4f |%n",
                            noise,
                            a == 1 ? "1 (off)" : String.valueOf(a),
                            dice / (clips.length * frames),
                            flicker / (clips.length * (frames - 1)));
                }
            }
        }
    }

    static double dice(byte[] a, byte[] b) {
        long inter = 0;
        long n = 0;
        for (int i = 0; i < a.length; i++) {
            boolean x = a[i] != 0;
            boolean y = b[i] != 0;
            n += (x ? 1 : 0) + (y ? 1 : 0);
            inter += x && y ? 1 : 0;
        }
        return n == 0 ? 1 : 2.0 * inter / n;
    }

    /** The frames of a clip held in memory. */
    private static final class Memory implements FrameSource {
        private final List<Raster> frames;
        private int next;

        Memory(List<Raster> frames) {
            this.frames = frames;
        }

        @Override
        public String name() {
            return "synthetic clip";
        }

        @Override
        public double frameRate() {
            return 30;
        }

        @Override
        public int declaredFrames() {
            return frames.size();
        }

        @Override
        public VideoFrame next() {
            return next < frames.size() ? new VideoFrame(next, next / 30.0, frames.get(next++)) : null;
        }

        @Override
        public void close() {}
    }
}
