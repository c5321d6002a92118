package org.arunet.data.split;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.data.io.OpenCv;
import org.arunet.data.io.Raster;
import org.arunet.data.testing.TestImages;
import org.junit.jupiter.api.Test;

class PerceptualHashTest {
    @Test
    void nearCopiesAreCloseAndUnrelatedImagesFar() {
        Raster a = TestImages.texture(160, 120, 1);
        long ha = PerceptualHash.phash(a);
        assertEquals(0, PerceptualHash.distance(ha, PerceptualHash.phash(a)));
        Raster resized = OpenCv.resize(a, 120, 90, OpenCv.Interpolation.SMOOTH);
        assertTrue(PerceptualHash.distance(ha, PerceptualHash.phash(resized)) <= 4, "resized copy");
        Raster brighter = Raster.zeros8(160, 120, 1);
        for (long i = 0; i < a.samples(); i++) {
            brighter.setSample(i, Math.min(255, a.sample(i) + 20));
        }
        assertTrue(PerceptualHash.distance(ha, PerceptualHash.phash(brighter)) <= 4, "brighter copy");
        int minUnrelated = 64;
        for (int seed = 2; seed < 30; seed++) {
            int d = PerceptualHash.distance(ha, PerceptualHash.phash(TestImages.texture(160, 120, seed)));
            minUnrelated = Math.min(minUnrelated, d);
        }
        assertTrue(minUnrelated > Deduplication.DEFAULT_MAX_DISTANCE, "closest unrelated image at " + minUnrelated);
    }

    @Test
    void colourAndSixteenBitImagesHashLikeTheirGrey() {
        Raster g = TestImages.texture(64, 64, 5);
        Raster rgb = Raster.zeros8(64, 64, 3);
        for (long p = 0; p < 64 * 64; p++) {
            for (int c = 0; c < 3; c++) {
                rgb.setSample(3 * p + c, g.sample(p));
            }
        }
        long h = PerceptualHash.phash(g);
        assertEquals(h, PerceptualHash.phash(rgb));
        assertTrue(PerceptualHash.distance(h, PerceptualHash.phash(TestImages.to16(g))) <= 2);
    }

    @Test
    void pixelHashSeesEveryPixelAndTheSize() {
        Raster a = TestImages.noise(10, 10, 1, 8, 1);
        Raster b = new Raster(10, 10, 1, 8, a.data().clone());
        assertEquals(PerceptualHash.pixelHash(a), PerceptualHash.pixelHash(b));
        b.setSample(99, b.sample(99) ^ 1);
        assertNotEquals(PerceptualHash.pixelHash(a), PerceptualHash.pixelHash(b));
        Raster c = new Raster(20, 5, 1, 8, a.data().clone());
        assertNotEquals(PerceptualHash.pixelHash(a), PerceptualHash.pixelHash(c));
    }
}
