/**
 * Inference: {@link org.arunet.infer.Segmenter} segments files, OpenCV Mats, BufferedImages and float
 * arrays with a checkpoint, at the image's own size, safely from many threads.
 */
package org.arunet.infer;
