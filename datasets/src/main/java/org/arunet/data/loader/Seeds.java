package org.arunet.data.loader;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Seed derivation: every random choice of the loader comes from a generator seeded by a hash of
 * (seed, epoch, what), so it does not depend on which thread runs it or when.
 */
final class Seeds {
    /** Salt of the epoch's shuffle. */
    static final long SHUFFLE = 0x53485546464c45L;

    private Seeds() {}

    /** SplitMix64's finaliser. */
    static long splitmix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static long mix(long a, long b, long c) {
        return splitmix(splitmix(splitmix(a) ^ b) ^ c);
    }

    /** FNV-1a 64 of the UTF-8 bytes: a stable key of a sample id. */
    static long key(String id) {
        long h = 0xcbf29ce484222325L;
        for (byte b : id.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xFF;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** Fisher-Yates permutation of 0..n-1 driven by {@code seed}. */
    static int[] permutation(int n, long seed) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = i;
        }
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
