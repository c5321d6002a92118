package org.arunet.nn;

import org.bytedeco.opencv.opencv_core.Mat;

/**
 * Not a test: an architecture violation for ArchitectureRulesCatchViolationsTest, an OpenCV type in a
 * public signature of a core package (as {@code Segmenter.segment(Mat)} was in the Java API).
 */
public final class ArchViolationMatModule {
    public Mat weights() {
        return new Mat();
    }
}
