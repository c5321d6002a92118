package org.arunet.data.loader;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.arunet.data.Batch;
import org.arunet.data.dataset.Sample;
import org.arunet.data.io.ImageReader;
import org.arunet.data.io.Raster;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Inference preprocessing gives exactly the inputs the loader gives in training (without augmentation). */
class PreprocessingTest {
    @TempDir
    Path dir;

    @Test
    void matchesTheLoaderBitForBit() {
        List<Sample> samples = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Raster img =
                    i == 1 ? TestImages.noise(57, 43, 3, 8, i) : TestImages.noise(61 + i, 47, 1, i == 2 ? 16 : 8, i);
            Path ip = TestImages.write(dir.resolve("img" + i + ".png"), img);
            Path mp = TestImages.write(dir.resolve("mask" + i + ".png"), Raster.zeros8(img.width(), img.height(), 1));
            samples.add(new Sample("img" + i + ".png", ip, mp, "x"));
        }
        for (int channels : new int[] {1, 3}) {
            LoaderConfig cfg = LoaderConfig.builder()
                    .imageSize(32)
                    .channels(channels)
                    .threads(1)
                    .build();
            Preprocessing prep = Preprocessing.of(cfg);
            try (SegmentationBatchSource src = SegmentationBatchSource.open(samples, cfg)) {
                Iterator<Batch> it = src.epoch(0, 1, false);
                ImageReader reader = new ImageReader();
                for (Sample s : samples) {
                    try (Batch b = it.next()) {
                        float[] expected = b.images();
                        float[] got = prep.apply(reader.readImage(s.image(), prep.colorMode()));
                        assertArrayEquals(expected, got, s.id() + " with " + channels + " channels");
                    }
                }
            }
            assertEquals(prep, Preprocessing.fromMap(prep.toMap()), "round trip through checkpoint metadata");
        }
    }

    @Test
    void invalidMetadataIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.fromMap(java.util.Map.of("image_size", "x")));
        assertThrows(
                IllegalArgumentException.class,
                () -> Preprocessing.fromMap(
                        java.util.Map.of("image_size", "32", "channels", "2", "mean", "0.5", "std", "0.5")));
    }
}
