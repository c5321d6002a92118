package org.arunet.examples;

import java.nio.file.Path;
import org.arunet.infer.Segmentation;
import org.arunet.infer.Segmenter;

public class SegmentScan {
    public static void main(String[] args) throws Exception {
        try (Segmenter segmenter = Segmenter.pretrained("busi-compact")) {
            Segmentation s = segmenter.segment(Path.of(args[0]));
            s.writeMask(Path.of("mask.png"));
            System.out.printf("lesion area: %d pixels (%.1f %% of the image)%n", s.lesionPixels(),
                    100 * s.lesionFraction());
        }
    }
}
