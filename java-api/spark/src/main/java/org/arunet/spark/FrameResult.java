package org.arunet.spark;

/**
 * One output row of {@link ArunetSpark#segment}: the segmentation of one image (or one frame of a
 * multi-frame DICOM file), or the error that stopped it. Plain Java (no Spark type), so that the
 * per-image work can be tested and reused without a cluster; {@link ArunetSpark#SCHEMA} lists the
 * columns in this order.
 *
 * @param path the file, as the input named it (Spark's {@code binaryFile} gives a URI, e.g. {@code file:/data/a.png})
 * @param frame 0 for a single image, 1, 2, ... for the frames of a multi-frame DICOM file (as
 *     {@code arunet predict --csv}); 0 on an error row
 * @param width image width in pixels (null on an error row)
 * @param height image height in pixels (null on an error row)
 * @param maskPng the mask as an 8-bit grey PNG, 0 background and 255 lesion, byte for byte the file
 *     {@code arunet predict} writes; null on an error row or when masks are off
 * @param lesionPixels pixels predicted as lesion
 * @param lesionFraction lesion pixels over all pixels
 * @param lesionAreaMm2 lesion area in mm² where the file states its pixel spacing (DICOM), else null
 * @param bbox {@code {x, y, width, height}} of the lesion pixels, null when there is no lesion
 * @param meanLesionProbability mean lesion probability over the lesion pixels, null when there are none
 * @param spacingRowMm pixel spacing between rows in mm, null when the file states none
 * @param spacingColMm pixel spacing between columns in mm, null when the file states none
 * @param spacingSource where the spacing came from ({@code Pixel Spacing}, {@code Ultrasound Regions}),
 *     or why there is none ({@code none: a PNG file states no pixel spacing})
 * @param model the model's name ({@code busi-compact}, or the checkpoint's file name)
 * @param modelVersion the shipped model's version, or {@code sha256:<first 12 hex digits>} of a checkpoint
 * @param error null when the image was segmented, else what went wrong, naming the file
 */
public record FrameResult(
        String path,
        int frame,
        Integer width,
        Integer height,
        byte[] maskPng,
        Long lesionPixels,
        Double lesionFraction,
        Double lesionAreaMm2,
        int[] bbox,
        Double meanLesionProbability,
        Double spacingRowMm,
        Double spacingColMm,
        String spacingSource,
        String model,
        String modelVersion,
        String error) {

    /** The row of a file that could not be read or segmented. */
    static FrameResult failed(String path, String model, String modelVersion, String error) {
        return new FrameResult(
                path, 0, null, null, null, null, null, null, null, null, null, null, null, model, modelVersion, error);
    }
}
