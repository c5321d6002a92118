package org.arunet.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.backend.Activation;
import org.arunet.backend.ArunetException;
import org.arunet.jni.ArunetNative;
import org.arunet.tensor.DType;
import org.arunet.tensor.Device;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Memory;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Bad arguments are refused in Java with {@link IllegalArgumentException} naming the op and the
 * shapes; failures inside native code come back as {@link ArunetException} and leave the JVM and the
 * backend usable.
 */
class CpuErrorHandlingTest {
    private CpuBackend be;
    private TestTensors t;

    @BeforeEach
    void open() {
        be = new CpuBackend(2);
        t = new TestTensors();
    }

    @AfterEach
    void close() {
        t.close();
        be.close();
    }

    /** GPU memory as far as the checks can tell (never dereferenced). */
    private static final class FakeGpuMemory implements Memory {
        private final long bytes;

        FakeGpuMemory(long bytes) {
            this.bytes = bytes;
        }

        @Override
        public long address() {
            return 4096;
        }

        @Override
        public long bytes() {
            return bytes;
        }

        @Override
        public Device device() {
            return Device.CUDA;
        }

        @Override
        public void read(long o, float[] d, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long o, float[] s, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void read(long o, int[] d, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long o, int[] s, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void read(long o, long[] d, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long o, long[] s, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void read(long o, byte[] d, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void write(long o, byte[] s, int p, int c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void zero(long o, long c) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public void close() {}
    }

    private static void assertNames(IllegalArgumentException e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "'" + e.getMessage() + "' should name " + p);
        }
    }

    @Test
    void wrongShapesDtypesDevicesAndClosedTensorsAreRefusedBeforeNative() {
        Tensor a = t.plain(1, 2, 3);
        Tensor b = t.plain(1, 2);
        assertNames(assertThrows(IllegalArgumentException.class, () -> be.add(a, b, a)), "add", "[2]", "[3]");
        assertNames(
                assertThrows(IllegalArgumentException.class, () -> be.fill(t.ints(new int[] {1}, 1), 0f)),
                "fill",
                "F32");
        Tensor gpu = Tensor.wrap(new FakeGpuMemory(12), DType.F32, Layout.PLAIN, 3);
        assertNames(assertThrows(IllegalArgumentException.class, () -> be.scale(gpu, 2f, a)), "scale", "CUDA");
        Tensor closed = t.plain(1, 2, 3);
        closed.close();
        assertNames(assertThrows(IllegalArgumentException.class, () -> be.copy(closed, a)), "copy", "closed");
        assertNames(
                assertThrows(
                        IllegalArgumentException.class,
                        () -> be.activationForward(Activation.RELU, t.nhwc(1, 2, 2, 3), t.nhwc(1, 2, 2, 4))),
                "activationForward",
                "[1, 2, 2, 4]",
                "[1, 2, 2, 3]");
        assertNames(
                assertThrows(
                        IllegalArgumentException.class,
                        () -> be.maxPoolForward(t.plain(1, 2, 3, 4), t.nhwc(1, 1, 1, 1), 3, 2, 1)),
                "maxPoolForward",
                "NHWC");
        assertNames(
                assertThrows(
                        IllegalArgumentException.class,
                        () -> be.upsample2xBackward(t.nhwc(1, 4, 4, 2), t.nhwc(1, 2, 2, 3))),
                "upsample2xBackward",
                "dy");
        // partial overlap is refused where the op allows only exact in-place use
        Tensor big = t.zeros(Layout.PLAIN, 8);
        Tensor first4 = big.view(Layout.PLAIN, 2, 4).slice(0, 1).view(Layout.PLAIN, 4); // elements 0..3
        Tensor middle4 = big.view(Layout.PLAIN, 4, 2).slice(1, 2).view(Layout.PLAIN, 4); // elements 2..5
        assertNames(
                assertThrows(IllegalArgumentException.class, () -> be.add(first4, first4, middle4)), "add", "overlap");
        be.add(first4, first4, first4); // exact in place is allowed
    }

    @Test
    void nativeFailuresBecomeArunetExceptionsAndTheBackendSurvives() {
        long ctx = be.ctx();
        // a call Java would never make (kernel 0): the native entry refuses it with a C++ exception
        ArunetException e = assertThrows(
                ArunetException.class,
                () -> CpuBackend.run(
                        "maxPoolForward",
                        CpuBackend.of(t.nhwc(1, 4, 4, 1)),
                        () -> ArunetNative.maxpool_forward(ctx, 0, 0, 1, 4, 4, 1, 1, 1, 0, 1, 0)));
        assertTrue(
                e.getMessage().contains("maxPoolForward") && e.getMessage().contains("[1, 4, 4, 1]"), e.getMessage());
        assertInstanceOf(RuntimeException.class, e.getCause());
        ArunetException n = assertThrows(
                ArunetException.class,
                () -> CpuBackend.run(
                        "conv2d",
                        CpuBackend.NONE,
                        () -> ArunetNative.conv2d_forward(ctx, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, false, false)));
        assertTrue(n.getMessage().contains("closed?"), n.getMessage());
        // still alive and correct
        Tensor x = t.plain(1, 2, 3);
        Tensor y = t.plain(0, 0, 0);
        be.scale(x, 2f, y);
        assertArrayEquals(new float[] {2, 4, 6}, y.toFloatArray());
    }
}
