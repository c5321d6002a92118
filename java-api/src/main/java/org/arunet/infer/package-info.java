/**
 * Inference: {@link org.arunet.infer.Segmenter} segments files, rasters, BufferedImages and float
 * arrays with a checkpoint, at the image's own size, safely from many threads;
 * {@link org.arunet.infer.Evaluator} scores it on labelled samples with {@code org.arunet.eval}'s metrics.
 */
package org.arunet.infer;
