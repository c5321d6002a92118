package org.arunet.data.dataset;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a scan found besides the samples.
 *
 * @param skipped items left out under {@link BadItemPolicy#SKIP} (missing mask, missing image)
 * @param warnings oddities that did not stop the scan (masks without an image, files that are not
 *     images)
 * @param excludedByClass samples left out by the class filter, per class (e.g. BUSI's
 *     {@code normal} by default)
 */
public record ScanReport(List<Problem> skipped, List<Problem> warnings, Map<String, Integer> excludedByClass) {
    public ScanReport {
        skipped = List.copyOf(skipped);
        warnings = List.copyOf(warnings);
        excludedByClass = Collections.unmodifiableMap(new TreeMap<>(excludedByClass));
    }

    /** Nothing skipped, excluded or noticed. */
    public static ScanReport empty() {
        return new ScanReport(List.of(), List.of(), Map.of());
    }
}
