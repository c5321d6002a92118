package org.arunet.data.loader;

import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Reuses the float and int arrays of batches, keyed by length (the last batch of an epoch may be
 * shorter). A batch closed by the consumer returns its arrays here; one never closed is simply left
 * to the garbage collector, so forgetting {@code close()} costs allocations, not correctness.
 */
final class ArrayPool {
    private final int keepPerLength;
    private final Map<Integer, Queue<float[]>> floats = new ConcurrentHashMap<>();
    private final Map<Integer, Queue<int[]>> ints = new ConcurrentHashMap<>();
    private final AtomicLong allocations = new AtomicLong();

    ArrayPool(int keepPerLength) {
        this.keepPerLength = keepPerLength;
    }

    float[] floats(int length) {
        float[] a = floats.computeIfAbsent(length, k -> new ConcurrentLinkedQueue<>())
                .poll();
        if (a == null) {
            allocations.incrementAndGet();
            a = new float[length];
        }
        return a;
    }

    int[] ints(int length) {
        int[] a =
                ints.computeIfAbsent(length, k -> new ConcurrentLinkedQueue<>()).poll();
        if (a == null) {
            allocations.incrementAndGet();
            a = new int[length];
        }
        return a;
    }

    void release(float[] f, int[] i) {
        Queue<float[]> qf = floats.computeIfAbsent(f.length, k -> new ConcurrentLinkedQueue<>());
        if (qf.size() < keepPerLength) {
            qf.offer(f);
        }
        Queue<int[]> qi = ints.computeIfAbsent(i.length, k -> new ConcurrentLinkedQueue<>());
        if (qi.size() < keepPerLength) {
            qi.offer(i);
        }
    }

    /** Arrays allocated so far (pool misses). */
    long allocations() {
        return allocations.get();
    }
}
