package org.arunet.data.dataset;

import java.util.Arrays;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * Options of {@link Datasets#scan}. Defaults: detect the layout, class from CSV column / folder /
 * name prefix, all classes except {@code normal} (as the ARU-Net paper, which trains on BUSI benign +
 * malignant; BUSI's normal images have empty masks), stop on the first bad item.
 *
 * @param layout the layout to read, or {@code null} to detect it
 * @param classSource where class labels come from
 * @param classes keep only samples with these labels, or {@code null} for all labels (naming
 *     {@code normal} here includes it)
 * @param includeNormal keep samples labelled {@code normal} (case-insensitive)
 * @param onBadItem what to do with a sample whose image or mask is missing
 */
public record ScanOptions(
        Layout layout, ClassSource classSource, Set<String> classes, boolean includeNormal, BadItemPolicy onBadItem) {
    /** The label excluded unless {@link #includeNormal} is set or it is listed in {@link #classes}. */
    public static final String NORMAL = "normal";

    public ScanOptions {
        if (classSource == null || onBadItem == null) {
            throw new IllegalArgumentException("classSource and onBadItem must not be null");
        }
        if (layout == Layout.EXPLICIT) {
            throw new IllegalArgumentException("layout EXPLICIT is for Datasets.builder(), not for scanning");
        }
        classes = classes == null ? null : Set.copyOf(classes);
    }

    /** Detected layout, automatic classes, benign + malignant style (normal excluded), fail on bad items. */
    public static ScanOptions defaults() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Whether a sample with this label passes the class filter. */
    public boolean accepts(String label) {
        if (classes != null) {
            return classes.contains(label);
        }
        return includeNormal || !label.toLowerCase(Locale.ROOT).equals(NORMAL);
    }

    /** Builder of {@link ScanOptions}; every option has a default. */
    public static final class Builder {
        private Layout layout;
        private ClassSource classSource = ClassSource.AUTO;
        private Set<String> classes;
        private boolean includeNormal;
        private BadItemPolicy onBadItem = BadItemPolicy.FAIL;

        private Builder() {}

        /** Read this layout instead of detecting one. */
        public Builder layout(Layout layout) {
            this.layout = layout;
            return this;
        }

        public Builder classSource(ClassSource classSource) {
            this.classSource = classSource;
            return this;
        }

        /** Keep only these classes (e.g. {@code "benign", "malignant"}). */
        public Builder classes(String... classes) {
            this.classes = new TreeSet<>(Arrays.asList(classes));
            return this;
        }

        /** Keep BUSI's {@code normal} images (empty masks); the paper leaves them out. */
        public Builder includeNormal(boolean includeNormal) {
            this.includeNormal = includeNormal;
            return this;
        }

        public Builder onBadItem(BadItemPolicy onBadItem) {
            this.onBadItem = onBadItem;
            return this;
        }

        public ScanOptions build() {
            return new ScanOptions(layout, classSource, classes, includeNormal, onBadItem);
        }
    }
}
