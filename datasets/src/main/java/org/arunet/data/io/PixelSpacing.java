package org.arunet.data.io;

/**
 * The physical size of one pixel, as a file states it (DICOM only; no other format this module reads
 * carries a calibration it can trust).
 *
 * @param rowMm distance between the centres of adjacent rows (vertical, y), in millimetres
 * @param columnMm distance between the centres of adjacent columns (horizontal, x), in millimetres
 * @param source where the value came from: {@link #PIXEL_SPACING} or {@link #ULTRASOUND_REGIONS}
 */
public record PixelSpacing(double rowMm, double columnMm, String source) {
    /** DICOM Pixel Spacing (0028,0030). */
    public static final String PIXEL_SPACING = "Pixel Spacing";
    /** DICOM Sequence of Ultrasound Regions (0018,6011): Physical Delta X/Y in centimetres. */
    public static final String ULTRASOUND_REGIONS = "Ultrasound Regions";

    public PixelSpacing {
        if (!(rowMm > 0) || !(columnMm > 0) || !Double.isFinite(rowMm) || !Double.isFinite(columnMm)) {
            throw new IllegalArgumentException(
                    "pixel spacing must be positive and finite, got " + rowMm + " x " + columnMm + " mm");
        }
        if (source == null || source.isBlank()) {
            throw new IllegalArgumentException("pixel spacing needs its source");
        }
    }

    /** Area of one pixel in mm². */
    public double pixelAreaMm2() {
        return rowMm * columnMm;
    }
}
