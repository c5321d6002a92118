/**
 * {@link org.arunet.data.loader.SegmentationBatchSource}, the module's
 * {@link org.arunet.data.BatchSource}: decodes and checks every item once, caches S x S images,
 * augments training epochs deterministically per (seed, epoch, item) and prepares batches in
 * background threads with pooled arrays.
 */
package org.arunet.data.loader;
