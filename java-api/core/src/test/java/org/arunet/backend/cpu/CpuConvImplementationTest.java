package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.backend.Conv2dOp;
import org.junit.jupiter.api.Test;

/**
 * oneDNN must run ARU-Net's convolutions (every layer of the 512x512 model, batch 2, all four passes)
 * with its jit / brgemm kernels: weights handed over in plain OIHW, or an unsupported configuration,
 * would fall back to {@code ref:} or {@code gemm:ref} implementations, ~200x slower. Creating the
 * primitives is enough to know; nothing is computed.
 */
class CpuConvImplementationTest {
    @Test
    void everyAruNetConvolutionUsesAJitKernel() {
        StringBuilder seen = new StringBuilder();
        try (CpuBackend be = new CpuBackend(2)) {
            for (var layer : CpuBackendPerf.aruNetLayers()) {
                try (Conv2dOp op = be.conv2d(layer.spec())) {
                    CpuConv2dOp conv = (CpuConv2dOp) op;
                    for (CpuConv2dOp.Pass pass : CpuConv2dOp.Pass.values()) {
                        String impl = conv.implementation(pass, 2, layer.size(), layer.size());
                        seen.append(layer.name())
                                .append(' ')
                                .append(pass)
                                .append(": ")
                                .append(impl)
                                .append('\n');
                        assertFalse(impl.isEmpty(), layer.name() + " " + pass);
                        assertFalse(
                                impl.startsWith("ref") || impl.contains("gemm:ref") || impl.contains(":ref"),
                                layer.name() + " " + pass + " runs on a reference kernel: " + impl + "\n" + seen);
                        assertTrue(
                                impl.contains("jit") || impl.contains("brg") || impl.contains("brdgmm"),
                                layer.name() + " " + pass + ": " + impl);
                    }
                }
            }
        }
    }

    /**
     * The fused inference forward keeps the jit kernels for every post-op chain ARU-Net uses (batch
     * norm folded into weights and bias; ReLU, GELU, sigmoid; sum; full-tensor add and mul; per-channel
     * affine), f32 and, where the CPU has it, bf16; likewise the upsampling convolutions' 2x2 phase
     * convolution.
     */
    @Test
    void fusedInferenceKeepsTheJitKernels() {
        int relu = CpuConv2dOp.POST_RELU;
        int[] recipes = {
            0,
            relu,
            relu | CpuConv2dOp.POST_SUM << 4,
            relu | CpuConv2dOp.POST_ADD << 4,
            CpuConv2dOp.POST_MUL | CpuConv2dOp.POST_ADD << 4,
            CpuConv2dOp.POST_SIGMOID,
            CpuConv2dOp.POST_GELU | CpuConv2dOp.POST_AFFINE << 4 | CpuConv2dOp.POST_ADD << 8
        };
        StringBuilder seen = new StringBuilder();
        try (CpuBackend be = new CpuBackend(2)) {
            boolean[] precisions = be.supportsBf16Inference() ? new boolean[] {false, true} : new boolean[] {false};
            for (var layer : CpuBackendPerf.aruNetLayers()) {
                if (layer.spec().inChannels() < 3) {
                    continue; // the 2 -> 1 attention convolution is too small for any jit kernel's blocking
                }
                try (Conv2dOp op = be.conv2d(layer.spec())) {
                    for (boolean bf16 : precisions) {
                        for (int recipe : recipes) {
                            String impl =
                                    ((CpuConv2dOp) op).fusedImplementation(recipe, bf16, 1, layer.size(), layer.size());
                            seen.append(layer.name())
                                    .append(" recipe ")
                                    .append(recipe)
                                    .append(bf16 ? " bf16" : "")
                                    .append(": ")
                                    .append(impl)
                                    .append('\n');
                            assertFalse(
                                    impl.startsWith("ref") || impl.contains(":ref"),
                                    layer.name() + " recipe "
                                            + recipe + (bf16 ? " bf16" : "") + " runs on a reference kernel: " + impl
                                            + "\n"
                                            + seen);
                            if (bf16) {
                                assertTrue(impl.contains("bf16") || impl.contains("amx"), layer.name() + ": " + impl);
                            }
                        }
                    }
                }
            }
            for (int c : new int[] {1024, 512, 256, 128}) {
                try (Conv2dOp op = be.conv2dUpsampled(org.arunet.backend.Conv2dSpec.same(c, c / 2, 3, 1, 1, true))) {
                    CpuConv2dOp conv = (CpuConv2dOp) op;
                    for (boolean bf16 : precisions) {
                        String impl = conv.fusedImplementation(relu, bf16, 1, 4096 / c, 4096 / c);
                        assertTrue(impl.contains("brg") || impl.contains("jit"), "upsampling " + c + ": " + impl);
                    }
                    for (CpuConv2dOp.Pass pass : CpuConv2dOp.Pass.values()) {
                        String impl = conv.implementation(pass, 2, 8192 / c, 8192 / c);
                        assertTrue(
                                impl.contains("brg") || impl.contains("jit"),
                                "upsampling " + c + " " + pass + ": " + impl);
                    }
                }
            }
        }
    }
}
