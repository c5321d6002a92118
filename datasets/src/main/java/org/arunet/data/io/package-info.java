/**
 * Reading images and masks safely: {@link org.arunet.data.io.ImageHeaders} checks a file's header
 * (format, declared size against {@link org.arunet.data.io.ImageLimits}, truncation) before
 * {@link org.arunet.data.io.ImageReader} decodes it with OpenCV ({@code imdecode} on bytes read here)
 * or, for indexed masks, {@code javax.imageio}. Decoded pixels are {@link org.arunet.data.io.Raster}s
 * in Java memory; every native buffer is freed before a call returns. Every problem is a
 * {@link org.arunet.data.io.DataException} naming the file.
 */
package org.arunet.data.io;
