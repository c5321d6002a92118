/**
 * The ARU-Net paper's online augmentation (horizontal flip, rotation in [-10, 10] degrees, crop of
 * 80 % of the side resized back), drawn per item and applied as one affine warp to image (bilinear)
 * and mask (nearest).
 */
package org.arunet.data.augment;
