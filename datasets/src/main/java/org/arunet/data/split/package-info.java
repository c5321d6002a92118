/**
 * Leak-free splits: {@link org.arunet.data.split.Duplicates} groups exact and near-duplicate images
 * (pixel SHA-256, 64-bit DCT perceptual hash, union-find), {@link org.arunet.data.split.Splits} makes
 * a per-class 70/10/20 split that never divides a group, and {@link org.arunet.data.split.Split} is
 * its JSON file, checked when read back.
 */
package org.arunet.data.split;
