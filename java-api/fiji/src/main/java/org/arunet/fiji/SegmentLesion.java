package org.arunet.fiji;

import ij.IJ;
import ij.ImagePlus;
import ij.Macro;
import ij.gui.GenericDialog;
import ij.gui.Overlay;
import ij.gui.Roi;
import ij.io.OpenDialog;
import ij.macro.Interpreter;
import ij.plugin.PlugIn;
import ij.plugin.frame.RoiManager;
import java.awt.GraphicsEnvironment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.arunet.pretrained.ModelCard;
import org.arunet.pretrained.PretrainedModels;

/**
 * {@code Plugins > arunet > Segment lesion}: asks for the model (a shipped one or a checkpoint file), the
 * device and test-time augmentation, segments the active image or every slice of its stack
 * ({@link LesionSegmentation}), adds the lesion outlines to the ROI Manager and opens the probability map.
 * Recordable: the dialog's fields are macro options ({@code run("Segment lesion", "model=busi-compact
 * device=cpu tta")}).
 *
 * <p>Headless (no display: ImageJ 1.x can then open neither a dialog nor the ROI Manager) it runs from a
 * macro's options alone ({@code model} may then also be a checkpoint file, {@code model=[/path/x.safetensors]}),
 * puts the outlines on the image's overlay instead of the ROI Manager, and opens the probability map as a
 * batch-mode image when the macro runs in batch mode.
 */
public final class SegmentLesion implements PlugIn {
    static final String CHECKPOINT = "Checkpoint file...";

    @Override
    public void run(String arg) {
        ImagePlus imp = IJ.getImage(); // shows "no image" itself when there is none
        if (imp == null) {
            return;
        }
        boolean headless = GraphicsEnvironment.isHeadless();
        LesionSegmentation.Options o;
        try {
            o = headless ? fromMacro(Macro.getOptions(), shippedModels()) : dialog();
        } catch (IllegalArgumentException e) {
            IJ.error("arunet", e.getMessage());
            return;
        }
        if (o == null) {
            return;
        }
        LesionSegmentation.Result r;
        try {
            IJ.showStatus("arunet: segmenting " + imp.getStackSize() + " slice(s) with " + o.model());
            r = LesionSegmentation.run(imp, o);
        } catch (Exception | LinkageError e) {
            IJ.error("arunet", "Segmentation failed: " + e.getMessage());
            return;
        }
        if (headless) {
            Overlay overlay = imp.getOverlay() == null ? new Overlay() : imp.getOverlay();
            r.rois().forEach(overlay::add);
            imp.setOverlay(overlay);
            if (Interpreter.isBatchMode()) {
                r.probabilities().show();
            }
            IJ.log("arunet: " + r.rois().size() + " lesion outline(s) added to the overlay of " + imp.getTitle());
            return;
        }
        RoiManager rm = RoiManager.getRoiManager();
        for (Roi roi : r.rois()) {
            rm.addRoi(roi);
        }
        r.probabilities().show();
        IJ.showStatus("arunet: " + r.rois().size() + " lesion outline(s) added to the ROI Manager");
    }

    private static List<String> shippedModels() {
        List<String> models = new ArrayList<>();
        for (ModelCard c : PretrainedModels.onClassPath().list()) {
            models.add(c.name());
        }
        return models;
    }

    /**
     * The options from a macro's option string, with the dialog's keys: {@code model} (a shipped model's name
     * or a checkpoint file; default the first shipped model), {@code device} (auto, cpu, cuda; default auto),
     * and the flags {@code tta} and {@code largest}.
     *
     * @throws IllegalArgumentException when there are no options, no model or an unknown device
     */
    static LesionSegmentation.Options fromMacro(String options, List<String> shipped) {
        if (options == null) {
            throw new IllegalArgumentException("Segment lesion needs a display for its dialog; headless, run it from a"
                    + " macro with options, e.g. run(\"Segment lesion\", \"model=busi-compact device=cpu\")");
        }
        String model = Macro.getValue(options, "model", shipped.isEmpty() ? null : shipped.get(0));
        if (model == null || model.isBlank() || model.equals(CHECKPOINT)) {
            throw new IllegalArgumentException(
                    "no model: give model=NAME (a shipped model) or model=[FILE] (a" + " checkpoint)");
        }
        String device = Macro.getValue(options, "device", "auto").toLowerCase(Locale.ROOT);
        if (!List.of("auto", "cpu", "cuda").contains(device)) {
            throw new IllegalArgumentException("device=" + device + ": expected auto, cpu or cuda");
        }
        return new LesionSegmentation.Options(model, device, flag(options, "tta"), flag(options, "largest"));
    }

    /** A checkbox key present on its own ({@code tta}), as ImageJ records a ticked box. */
    private static boolean flag(String options, String key) {
        for (String word : options.trim().split("\\s+")) {
            if (word.equals(key)) {
                return true;
            }
        }
        return false;
    }

    /** The options dialog; null when cancelled. */
    static LesionSegmentation.Options dialog() {
        List<String> models = shippedModels();
        models.add(CHECKPOINT);
        GenericDialog gd = new GenericDialog("arunet: Segment lesion");
        gd.addChoice("model", models.toArray(new String[0]), models.get(0));
        gd.addChoice("device", new String[] {"auto", "cpu", "cuda"}, "auto");
        gd.addCheckbox("tta (average with the mirrored image)", false);
        gd.addCheckbox("largest lesion only", false);
        gd.showDialog();
        if (gd.wasCanceled()) {
            return null;
        }
        String model = gd.getNextChoice();
        String device = gd.getNextChoice();
        boolean tta = gd.getNextBoolean();
        boolean largest = gd.getNextBoolean();
        if (model.equals(CHECKPOINT)) {
            OpenDialog od = new OpenDialog("arunet checkpoint (.safetensors)");
            if (od.getPath() == null) {
                return null;
            }
            model = od.getPath();
        }
        return new LesionSegmentation.Options(model, device, tta, largest);
    }
}
