package org.arunet.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.junit.jupiter.api.Test;

/** {@link Tensor#range}: tensors carved out of one buffer at element offsets (the activation arena's views). */
class TensorRangeTest {
    @Test
    void aRangeSeesItsElementsWhateverTheBuffersShape() {
        try (Backend be = Backends.reference();
                Tensor arena = be.allocate(DType.F32, Layout.PLAIN, 6, 4)) {
            float[] v = new float[24];
            for (int i = 0; i < v.length; i++) {
                v[i] = i;
            }
            arena.copyFrom(v);
            Tensor t = arena.range(5, Layout.NHWC, 1, 2, 3, 2); // elements 5..16, across rows of the buffer
            assertTrue(t.isView());
            assertArrayEquals(new int[] {1, 2, 3, 2}, t.shape());
            float[] got = t.toFloatArray();
            for (int i = 0; i < got.length; i++) {
                assertEquals(5 + i, got[i]);
            }
            t.copyFrom(new float[12]);
            assertEquals(4f, arena.toFloatArray()[4]);
            assertEquals(0f, arena.toFloatArray()[5]);
            assertEquals(0f, arena.toFloatArray()[16]);
            assertEquals(17f, arena.toFloatArray()[17]);
            Tensor nested = arena.slice(2, 3).range(1, Layout.PLAIN, 4); // offsets add up: elements 9..12
            assertEquals(0f, nested.toFloatArray()[3]);
            assertEquals(arena.address() + 9 * 4L, nested.address());
            assertThrows(IndexOutOfBoundsException.class, () -> arena.range(13, Layout.PLAIN, 12));
            assertThrows(IndexOutOfBoundsException.class, () -> arena.range(-1, Layout.PLAIN, 1));
            assertEquals(24, arena.range(0, Layout.PLAIN, 24).numel());
        }
    }
}
