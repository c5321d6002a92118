/**
 * Backend-agnostic parity cases: {@link org.arunet.backend.cuda.parity.OpCases} lists every op of the
 * {@link org.arunet.backend.Backend} contract (and the tiny ARU-Net) on seeded random inputs, with the
 * tolerance of each output in each {@link org.arunet.backend.cuda.Precision};
 * {@link org.arunet.backend.cuda.parity.Comparison} compares two backends' outputs. Used by the GPU
 * tests, by the GPU machine's harness (against the CPU backend's saved results) and, here, to check the
 * CPU backend against the reference backend.
 */
package org.arunet.backend.cuda.parity;
