package org.arunet.video;

import java.nio.file.Path;
import org.arunet.data.io.ColorMode;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.sample.BusiMini;

/** Clips made from the bundled BUSI sample for the tests. */
final class Clips {
    private Clips() {}

    static Path sampleDir(Path tmp) {
        return BusiMini.extractTo(tmp.resolve("busi-mini"));
    }

    /** A clip of {@code n} frames from sample image {@code name} (e.g. "benign_028"), grey in RGB frames. */
    static SyntheticClip.Frames fromSample(Path tmp, String name, int n, double noise) {
        Path dir = sampleDir(tmp);
        ImageReader reader = new ImageReader();
        Raster image = reader.readImage(dir.resolve("images/" + name + ".png"), ColorMode.RGB);
        Raster mask = reader.readMask(dir.resolve("masks/" + name + ".png"), 2);
        return SyntheticClip.make(image, mask, n, noise, 7);
    }

    static double dice(byte[] a, byte[] b) {
        long inter = 0;
        long sa = 0;
        long sb = 0;
        for (int i = 0; i < a.length; i++) {
            boolean x = a[i] != 0;
            boolean y = b[i] != 0;
            if (x) {
                sa++;
            }
            if (y) {
                sb++;
            }
            if (x && y) {
                inter++;
            }
        }
        return sa + sb == 0 ? 1 : 2.0 * inter / (sa + sb);
    }
}
