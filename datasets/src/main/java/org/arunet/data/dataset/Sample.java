package org.arunet.data.dataset;

import java.nio.file.Path;
import java.util.List;

/**
 * One image with its mask(s).
 *
 * @param id the image's path relative to the dataset root, with {@code /} separators; unique within a
 *     dataset, used in split files and as the batch item id
 * @param image absolute path of the image
 * @param masks absolute paths of its mask files, at least one; several are merged pixelwise by
 *     maximum (OR for binary masks), as BUSI's {@code _mask_1} files require
 * @param label class used to stratify splits ({@code "benign"}, ...), or {@code ""} when unknown
 * @param group explicit duplicate-group id (from a CSV manifest): samples sharing a non-empty group
 *     always land in the same split; {@code ""} when none
 */
public record Sample(String id, Path image, List<Path> masks, String label, String group) {
    public Sample {
        if (id == null || id.isEmpty()) {
            throw new IllegalArgumentException("sample id must not be empty");
        }
        if (masks == null || masks.isEmpty()) {
            throw new IllegalArgumentException("sample " + id + " has no mask");
        }
        masks = List.copyOf(masks);
        label = label == null ? "" : label;
        group = group == null ? "" : group;
    }

    /** A sample with one mask and no explicit group. */
    public Sample(String id, Path image, Path mask, String label) {
        this(id, image, List.of(mask), label, "");
    }
}
