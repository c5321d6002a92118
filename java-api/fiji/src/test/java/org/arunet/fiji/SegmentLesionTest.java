package org.arunet.fiji;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ij.ImagePlus;
import ij.ImageStack;
import ij.Macro;
import ij.WindowManager;
import ij.gui.Overlay;
import ij.gui.Roi;
import ij.macro.Interpreter;
import ij.process.ByteProcessor;
import java.awt.GraphicsEnvironment;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin itself ({@link SegmentLesion#run}, what {@code Plugins > arunet > Segment lesion} calls) run
 * headless as a macro runs it: options from the macro string, the active image from the macro thread, the
 * outlines on the image's overlay and the probability map as a batch-mode image, checked against the
 * segmenter run directly.
 */
class SegmentLesionTest {
    @TempDir
    static Path dir;

    static Path checkpoint;

    @BeforeAll
    static void model() throws Exception {
        checkpoint = LesionSegmentationTest.tinyModel(dir);
    }

    @AfterEach
    void noBatchMode() {
        Interpreter.batchMode = false;
    }

    private static ByteProcessor disc(int cx, int cy, int r) {
        return LesionSegmentationTest.disc(48, 40, cx, cy, r);
    }

    /** Runs the plugin on {@code imp} in a macro thread with {@code options}; returns the image active after it. */
    private static ImagePlus runAsMacro(ImagePlus imp, String options) throws Exception {
        AtomicReference<ImagePlus> active = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread t = new Thread(
                () -> {
                    try {
                        Macro.setOptions(options);
                        WindowManager.setTempCurrentImage(imp);
                        new SegmentLesion().run("");
                        active.set(WindowManager.getCurrentImage());
                    } catch (Throwable e) {
                        failure.set(e);
                    } finally {
                        Macro.setOptions(null);
                        WindowManager.setTempCurrentImage(null);
                    }
                },
                "Run$_segment-lesion-test");
        t.start();
        t.join();
        if (failure.get() != null) {
            throw new AssertionError("the plugin threw", failure.get());
        }
        return active.get();
    }

    @Test
    void aMacroRunsThePluginOnAStackHeadless() throws Exception {
        assertTrue(GraphicsEnvironment.isHeadless(), "this test is about running without a display");
        ImageStack stack = new ImageStack(48, 40);
        stack.addSlice("a", disc(15, 15, 8));
        stack.addSlice("b", disc(30, 22, 10));
        ImagePlus imp = new ImagePlus("scan", stack);
        Interpreter.batchMode = true;

        ImagePlus probabilities = runAsMacro(imp, "model=[" + checkpoint + "] device=cpu");

        assertNotNull(probabilities, "the probability map is the active batch-mode image");
        assertNotSame(imp, probabilities);
        assertEquals("lesion probability of scan", probabilities.getTitle());
        assertEquals(2, probabilities.getStackSize());
        Overlay overlay = imp.getOverlay();
        assertNotNull(overlay, "the outlines go on the image's overlay");
        LesionSegmentation.Options o = new LesionSegmentation.Options(checkpoint.toString(), "cpu", false, false);
        int withLesion = 0;
        try (Segmenter s = LesionSegmentation.open(o)) {
            for (int slice = 1; slice <= 2; slice++) {
                Segmentation expected = s.segment(LesionSegmentation.toRaster(stack.getProcessor(slice)));
                assertArrayEquals(
                        expected.lesionProbability(),
                        (float[]) probabilities.getStack().getProcessor(slice).getPixels(),
                        1e-6f,
                        "slice " + slice);
                Roi roi = overlay.get("lesion " + slice);
                if (expected.lesionPixels() == 0) {
                    assertNull(roi, "slice " + slice);
                    continue;
                }
                withLesion++;
                assertNotNull(roi, "slice " + slice);
                assertEquals(slice, roi.getPosition());
                for (int y = 0; y < 40; y++) {
                    for (int x = 0; x < 48; x++) {
                        assertEquals(expected.mask()[y * 48 + x] != 0, roi.contains(x, y), "pixel " + x + "," + y);
                    }
                }
            }
        }
        assertEquals(withLesion, overlay.size());
        assertTrue(withLesion > 0, "the test model must predict some lesion for the ROI checks to mean anything");
    }

    @Test
    void withoutBatchModeTheOutlinesStillComeAndNothingIsShown() throws Exception {
        ImagePlus imp = new ImagePlus("one", disc(20, 20, 9));
        ImagePlus active = runAsMacro(imp, "model=[" + checkpoint + "] device=cpu largest");
        assertTrue(active == null || active == imp, "no probability window headless outside batch mode");
        Overlay overlay = imp.getOverlay();
        assertNotNull(overlay);
        assertTrue(overlay.size() <= 1, "largest lesion only: at most one outline");
    }

    @Test
    void badOptionsAreReportedNotThrown() throws Exception {
        ImagePlus imp = new ImagePlus("x", disc(20, 20, 9));
        runAsMacro(imp, "model=[" + checkpoint + "] device=tpu");
        runAsMacro(imp, "model=[/no/such/model.safetensors] device=cpu");
        assertNull(imp.getOverlay(), "nothing segmented");
    }

    @Test
    void macroOptionsUseTheDialogsKeys() {
        LesionSegmentation.Options o =
                SegmentLesion.fromMacro("model=busi-compact device=CPU tta largest ", List.of("busi-compact"));
        assertEquals(new LesionSegmentation.Options("busi-compact", "cpu", true, true), o);
        o = SegmentLesion.fromMacro("device=cuda ", List.of("busi-compact", "other"));
        assertEquals(new LesionSegmentation.Options("busi-compact", "cuda", false, false), o);
        o = SegmentLesion.fromMacro("model=[/data/my runs/best.safetensors] ", List.of());
        assertEquals(new LesionSegmentation.Options("/data/my runs/best.safetensors", "auto", false, false), o);
        assertThrows(IllegalArgumentException.class, () -> SegmentLesion.fromMacro(null, List.of("busi-compact")));
        assertThrows(IllegalArgumentException.class, () -> SegmentLesion.fromMacro("device=cpu ", List.of()));
        assertThrows(IllegalArgumentException.class, () -> SegmentLesion.fromMacro("model=x device=gpu ", List.of()));
        assertFalse(SegmentLesion.fromMacro("model=x ttas ", List.of()).tta(), "a flag is a whole word");
    }
}
