/**
 * Evaluation metrics: paper-compatible metrics from one confusion matrix, lesion Dice/IoU/HD95 per
 * image, paired significance tests ({@link org.arunet.eval.Evaluation}). Pure functions of masks: no
 * model, no data set; {@code org.arunet.infer.Evaluator} runs a segmenter over a data set with them.
 */
package org.arunet.eval;
