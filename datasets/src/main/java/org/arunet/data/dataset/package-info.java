/**
 * Describing a segmentation dataset without decoding it: {@link org.arunet.data.dataset.Datasets#scan}
 * finds image/mask pairs in the {@code images/} + {@code masks/} layout, the original BUSI release or
 * a CSV manifest, with class labels for stratification and an optional class filter (BUSI's
 * {@code normal} images are left out unless asked for, as in the ARU-Net paper).
 */
package org.arunet.data.dataset;
