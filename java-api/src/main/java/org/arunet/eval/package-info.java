/**
 * Evaluation: paper-compatible metrics from one confusion matrix, lesion Dice/IoU/HD95 per image,
 * paired significance tests ({@link org.arunet.eval.Evaluation}, {@link org.arunet.eval.Evaluator}).
 */
package org.arunet.eval;
