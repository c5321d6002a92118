package org.arunet.fiji;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import ij.ImagePlus;
import ij.ImageStack;
import ij.gui.Roi;
import ij.measure.Calibration;
import ij.process.ByteProcessor;
import ij.process.ColorProcessor;
import ij.process.FloatProcessor;
import ij.process.ImageProcessor;
import ij.process.ShortProcessor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.data.io.Raster;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.nn.Init;
import org.arunet.train.Checkpoint;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin's logic headless: an ImagePlus (single image and a 3-slice stack, 8-bit, 16-bit, RGB and
 * 32-bit) in, ROIs and a probability stack out, checked against the segmenter run directly on the same
 * pixels; no window, no dialog.
 */
class LesionSegmentationTest {
    @TempDir
    static Path dir;

    static Path checkpoint;

    /**
     * An untrained tiny model whose random weights mark part of the test images as lesion: initial
     * weights are tried seed by seed until one gives a mask that is neither empty nor full on the stack's
     * first slice (deterministic: the same seed wins every run), so that the ROI checks check something.
     */
    @BeforeAll
    static void tinyModel() throws IOException {
        checkpoint = tinyModel(dir);
    }

    /** Writes the tiny model into {@code dir} and returns its checkpoint. */
    static Path tinyModel(Path dir) throws IOException {
        Map<String, String> pre = Map.of(
                "image_size",
                "32",
                "channels",
                "1",
                "mean",
                "0.5",
                "std",
                "0.5",
                "resize",
                "area when shrinking, bilinear when enlarging");
        Raster probe = LesionSegmentation.toRaster(disc(48, 40, 15, 15, 8));
        for (long seed = 1; seed <= 200; seed++) {
            Path f = dir.resolve("tiny-" + seed + ".safetensors");
            try (Backend be = Backends.cpu(2);
                    SegmentationModel m = new ArUNet(
                            be,
                            ArUNetConfig.paper().withWidth(4).withMixerDepth(2).withInChannels(1),
                            Init.Scheme.PYTORCH,
                            seed)) {
                Checkpoint.save(f, m, null, Map.of("preprocessing", new ObjectMapper().writeValueAsString(pre)));
            }
            try (Segmenter s = Segmenter.builder(f).device("cpu").threads(2).build()) {
                long lesion = s.segment(probe).lesionPixels();
                if (lesion > 20 && lesion < 48 * 40 - 20) {
                    return f;
                }
            }
        }
        throw new AssertionError("no seed gave a mixed mask");
    }

    static ByteProcessor disc(int w, int h, int cx, int cy, int r) {
        ByteProcessor bp = new ByteProcessor(w, h);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                bp.set(x, y, Math.hypot(x - cx, y - cy) < r ? 220 : 30 + (x * 7 + y * 3) % 40);
            }
        }
        return bp;
    }

    private static LesionSegmentation.Options options() {
        return new LesionSegmentation.Options(checkpoint.toString(), "cpu", false, false);
    }

    @Test
    void everySliceOfAStackGivesItsRoiAndProbabilities() throws IOException {
        ImageStack stack = new ImageStack(48, 40);
        stack.addSlice("a", disc(48, 40, 15, 15, 8));
        stack.addSlice("b", disc(48, 40, 30, 22, 10));
        stack.addSlice("c", disc(48, 40, 24, 20, 6));
        ImagePlus imp = new ImagePlus("scan", stack);
        Calibration cal = new Calibration();
        cal.pixelWidth = 0.1;
        cal.pixelHeight = 0.1;
        cal.setUnit("mm");
        imp.setCalibration(cal);

        LesionSegmentation.Result r = LesionSegmentation.run(imp, options());
        assertEquals(3, r.probabilities().getStackSize());
        assertEquals(48, r.probabilities().getWidth());
        assertEquals("mm", r.probabilities().getCalibration().getUnit());
        assertEquals(0.1, r.probabilities().getCalibration().pixelWidth, 1e-12);
        try (Segmenter s = LesionSegmentation.open(options())) {
            int withLesion = 0;
            for (int slice = 1; slice <= 3; slice++) {
                Segmentation expected = s.segment(LesionSegmentation.toRaster(stack.getProcessor(slice)));
                float[] p = (float[])
                        r.probabilities().getStack().getProcessor(slice).getPixels();
                assertArrayEquals(expected.lesionProbability(), p, 1e-6f, "slice " + slice);
                assertEquals(expected.lesionPixels(), r.lesionPixels()[slice - 1]);
                int position = slice;
                Roi roi = r.rois().stream()
                        .filter(x -> x.getPosition() == position)
                        .findFirst()
                        .orElse(null);
                if (expected.lesionPixels() == 0) {
                    assertEquals(null, roi);
                    continue;
                }
                withLesion++;
                assertNotNull(roi, "slice " + slice);
                assertEquals("lesion " + slice, roi.getName());
                assertEquals(expected.lesionPixels(), inside(roi, 48, 40), "ROI covers the mask, slice " + slice);
                for (int y = 0; y < 40; y++) {
                    for (int x = 0; x < 48; x++) {
                        assertEquals(expected.mask()[y * 48 + x] != 0, roi.contains(x, y), "pixel " + x + "," + y);
                    }
                }
            }
            assertEquals(withLesion, r.rois().size());
            assertTrue(withLesion > 0, "the test model must predict some lesion for the ROI checks to mean anything");
        }
    }

    private static long inside(Roi roi, int w, int h) {
        long n = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                n += roi.contains(x, y) ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void aSingleImageGivesAnUnpositionedRoiAndTtaChangesNothingStructural() throws IOException {
        ImagePlus imp = new ImagePlus("one", disc(40, 40, 20, 20, 9));
        LesionSegmentation.Result r =
                LesionSegmentation.run(imp, new LesionSegmentation.Options(checkpoint.toString(), "cpu", true, true));
        assertEquals(1, r.probabilities().getStackSize());
        assertTrue(r.rois().size() <= 1, "largest component: at most one outline");
        r.rois().forEach(roi -> {
            assertEquals(0, roi.getPosition());
            assertEquals("lesion", roi.getName());
        });
    }

    @Test
    void pixelTypesBecomeRastersAsStored() {
        ByteProcessor b = disc(5, 4, 2, 2, 1);
        Raster rb = LesionSegmentation.toRaster(b);
        assertEquals(8, rb.bitDepth());
        assertEquals(b.get(3, 2), rb.get(3, 2, 0));

        ShortProcessor s = new ShortProcessor(5, 4);
        s.set(3, 2, 40000);
        Raster rs = LesionSegmentation.toRaster(s);
        assertEquals(16, rs.bitDepth());
        assertEquals(40000, rs.get(3, 2, 0));

        ColorProcessor c = new ColorProcessor(5, 4);
        c.set(3, 2, (10 << 16) | (20 << 8) | 30);
        Raster rc = LesionSegmentation.toRaster(c);
        assertEquals(List.of(10, 20, 30), List.of(rc.get(3, 2, 0), rc.get(3, 2, 1), rc.get(3, 2, 2)));

        FloatProcessor f = new FloatProcessor(5, 4);
        f.setf(3, 2, 2.5f);
        f.setf(1, 1, -1f);
        f.setMinAndMax(-1, 4);
        Raster rf = LesionSegmentation.toRaster(f);
        assertEquals(Math.round(3.5 / 5 * 65535), rf.get(3, 2, 0));
        assertEquals(0, rf.get(1, 1, 0));
        ImageProcessor flat = new FloatProcessor(2, 2);
        assertEquals(0, LesionSegmentation.toRaster(flat).get(1, 1, 0));
    }

    @Test
    void aMissingCheckpointIsAClearError() {
        IOException e = assertThrows(
                IOException.class,
                () -> LesionSegmentation.run(
                        new ImagePlus("x", disc(8, 8, 4, 4, 2)),
                        new LesionSegmentation.Options(
                                dir.resolve("nope.safetensors").toString(), "cpu", false, false)));
        assertTrue(e.getMessage().contains("nope.safetensors"), e.getMessage());
    }

    @Test
    void pluginsConfigPutsTheCommandUnderPluginsArunet() throws IOException {
        try (InputStream in = LesionSegmentation.class.getResourceAsStream("/plugins.config")) {
            assertNotNull(in, "plugins.config is in the jar");
            List<String> lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))
                    .lines()
                    .filter(l -> !l.startsWith("#") && !l.isBlank())
                    .toList();
            assertEquals(List.of("Plugins>arunet, \"Segment lesion\", org.arunet.fiji.SegmentLesion(\"\")"), lines);
        }
        assertTrue(ij.plugin.PlugIn.class.isAssignableFrom(SegmentLesion.class));
    }
}
