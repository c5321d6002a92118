package org.arunet.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;

/** A small synthetic dataset on disk: grey images with a bright disc and its mask, in images/ + masks/. */
final class TinyDataset {
    private TinyDataset() {}

    static Path write(Path dir, int count, int side, long seed) throws IOException {
        Files.createDirectories(dir.resolve("images"));
        Files.createDirectories(dir.resolve("masks"));
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < count; i++) {
            BufferedImage img = new BufferedImage(side, side, BufferedImage.TYPE_BYTE_GRAY);
            BufferedImage mask = new BufferedImage(side, side, BufferedImage.TYPE_BYTE_GRAY);
            double cx = side * (0.3 + 0.4 * r.nextDouble());
            double cy = side * (0.3 + 0.4 * r.nextDouble());
            double rad = side * (0.12 + 0.1 * r.nextDouble());
            for (int y = 0; y < side; y++) {
                for (int x = 0; x < side; x++) {
                    boolean in = Math.hypot(x - cx, y - cy) < rad;
                    img.getRaster().setSample(x, y, 0, (int)
                            Math.max(0, Math.min(255, (in ? 200 : 60) + 30 * r.nextGaussian())));
                    mask.getRaster().setSample(x, y, 0, in ? 255 : 0);
                }
            }
            String name = (i % 2 == 0 ? "benign_" : "malignant_") + i + ".png";
            ImageIO.write(img, "png", dir.resolve("images").resolve(name).toFile());
            ImageIO.write(mask, "png", dir.resolve("masks").resolve(name).toFile());
        }
        return dir;
    }
}
