/**
 * The test kit: backend-agnostic parity cases. {@link org.arunet.testkit.OpCases} lists every op of the
 * {@link org.arunet.backend.Backend} contract (and the tiny ARU-Net) on seeded random inputs, with the
 * tolerance of each output in each {@link org.arunet.backend.Precision};
 * {@link org.arunet.testkit.Comparison} compares two backends' outputs;
 * {@link org.arunet.testkit.AmpGradientCriterion} judges mixed-precision gradients. Used by the GPU
 * backend's tests (java-api/cuda), by the GPU machine's harness (benchmarks/gpu, against the CPU
 * backend's saved results) and, in this module's tests, to check the CPU backend against the
 * reference backend. Main code of its own module (not a test-jar) because the GPU harness runs it.
 */
package org.arunet.testkit;
