/**
 * Training: {@link org.arunet.train.Trainer} (Adam, warm-up and cosine learning rate, CE + Dice or
 * focal Tversky loss, early stopping, atomic checkpoints, bit-exact resume) and
 * {@link org.arunet.train.Checkpoint} (safetensors with metadata).
 */
package org.arunet.train;
