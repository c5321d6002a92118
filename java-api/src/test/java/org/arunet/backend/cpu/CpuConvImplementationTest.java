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
                        seen.append(layer.name()).append(' ').append(pass).append(": ").append(impl).append('\n');
                        assertFalse(impl.isEmpty(), layer.name() + " " + pass);
                        assertFalse(impl.startsWith("ref") || impl.contains("gemm:ref") || impl.contains(":ref"),
                                layer.name() + " " + pass + " runs on a reference kernel: " + impl + "\n" + seen);
                        assertTrue(impl.contains("jit") || impl.contains("brg") || impl.contains("brdgmm"),
                                layer.name() + " " + pass + ": " + impl);
                    }
                }
            }
        }
    }
}
