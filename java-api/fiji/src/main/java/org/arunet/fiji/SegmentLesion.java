package org.arunet.fiji;

import ij.IJ;
import ij.ImagePlus;
import ij.gui.GenericDialog;
import ij.gui.Roi;
import ij.io.OpenDialog;
import ij.plugin.PlugIn;
import ij.plugin.frame.RoiManager;
import java.util.ArrayList;
import java.util.List;
import org.arunet.pretrained.ModelCard;
import org.arunet.pretrained.PretrainedModels;

/**
 * {@code Plugins > arunet > Segment lesion}: asks for the model (a shipped one or a checkpoint file), the
 * device and test-time augmentation, segments the active image or every slice of its stack
 * ({@link LesionSegmentation}), adds the lesion outlines to the ROI Manager and opens the probability map.
 * Recordable: the dialog's fields are macro options ({@code run("Segment lesion", "model=busi-compact
 * device=cpu tta")}).
 */
public final class SegmentLesion implements PlugIn {
    static final String CHECKPOINT = "Checkpoint file...";

    @Override
    public void run(String arg) {
        ImagePlus imp = IJ.getImage(); // shows "no image" itself when there is none
        if (imp == null) {
            return;
        }
        LesionSegmentation.Options o = dialog();
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
        RoiManager rm = RoiManager.getRoiManager();
        for (Roi roi : r.rois()) {
            rm.addRoi(roi);
        }
        r.probabilities().show();
        IJ.showStatus("arunet: " + r.rois().size() + " lesion outline(s) added to the ROI Manager");
    }

    /** The options dialog; null when cancelled. */
    static LesionSegmentation.Options dialog() {
        List<String> models = new ArrayList<>();
        for (ModelCard c : PretrainedModels.onClassPath().list()) {
            models.add(c.name());
        }
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
