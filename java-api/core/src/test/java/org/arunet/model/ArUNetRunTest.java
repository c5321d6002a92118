package org.arunet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.backend.Backend;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.tensor.DType;
import org.arunet.tensor.HostMemory;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/** The model on the native CPU backend: bad input, memory stability, a full-size forward pass. */
class ArUNetRunTest {

    @Test
    void badInputShapesAreRefusedNamingBothShapes() {
        try (Backend be = new CpuBackend();
                ArUNet net = ArUNet.builder().backend(be).width(4).build()) {
            try (Tensor x = be.allocate(DType.F32, Layout.NHWC, 1, 40, 32, 3)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> net.forward(x));
                assertTrue(
                        e.getMessage().contains("ArUNet")
                                && e.getMessage().contains("[1, 40, 32, 3]")
                                && e.getMessage().contains("multiples of 16"),
                        e.getMessage());
            }
            try (Tensor x = be.allocate(DType.F32, Layout.NHWC, 1, 32, 32, 1)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> net.forward(x));
                assertTrue(
                        e.getMessage().contains("[N, H, W, 3]")
                                && e.getMessage().contains("[1, 32, 32, 1]"),
                        e.getMessage());
            }
            try (Tensor x = be.allocate(DType.F32, Layout.PLAIN, 32, 32, 3)) {
                assertThrows(IllegalArgumentException.class, () -> net.forward(x));
            }
            // A block given the wrong channel count names itself and both shapes.
            try (Tensor x = be.allocate(DType.F32, Layout.NHWC, 1, 16, 16, 5)) {
                org.arunet.nn.Down d = new org.arunet.nn.Down(be, 4, 8, true);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.forward(x));
                assertTrue(
                        e.getMessage().contains("[N, H, W, 4]")
                                && e.getMessage().contains("[1, 16, 16, 5]"),
                        e.getMessage());
                d.close();
            }
        }
    }

    @Test
    void nativeMemoryStaysFlatOverAThousandForwardPasses() {
        long before = HostMemory.bytesInUse();
        try (Backend be = new CpuBackend();
                ArUNet net = ArUNet.builder().backend(be).width(4).build();
                Tensor x = be.allocate(DType.F32, Layout.NHWC, 1, 32, 32, 3)) {
            float[] v = new float[(int) x.numel()];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) Math.sin(i * 0.1);
            }
            x.copyFrom(v);
            net.eval();
            for (int i = 0; i < 20; i++) {
                net.forward(x);
            }
            long hostAfterWarmup = HostMemory.bytesInUse();
            long javacppAfterWarmup = Pointer.totalBytes();
            for (int i = 0; i < 1000; i++) {
                net.forward(x);
            }
            assertEquals(hostAfterWarmup, HostMemory.bytesInUse(), "arunet tensor bytes grew");
            assertEquals(javacppAfterWarmup, Pointer.totalBytes(), "JavaCPP-tracked bytes grew");
        }
        assertEquals(before, HostMemory.bytesInUse(), "closing the model and backend frees all their memory");
    }

    @Test
    @Tag("slow")
    void fullSizeForwardAt256IsFinite() {
        try (Backend be = new CpuBackend();
                ArUNet net = ArUNet.builder().backend(be).build();
                Tensor x = be.allocate(DType.F32, Layout.NHWC, 1, 256, 256, 3)) {
            float[] v = new float[(int) x.numel()];
            java.util.SplittableRandom r = new java.util.SplittableRandom(1);
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextGaussian();
            }
            x.copyFrom(v);
            net.eval();
            float[] logits = net.forward(x).toFloatArray();
            assertEquals(256 * 256 * 2, logits.length);
            double sum = 0;
            for (float f : logits) {
                assertTrue(Float.isFinite(f), "non-finite logit");
                sum += Math.abs(f);
            }
            assertTrue(sum > 0, "all-zero logits");
        }
    }
}
