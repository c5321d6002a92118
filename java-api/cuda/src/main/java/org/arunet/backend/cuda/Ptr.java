package org.arunet.backend.cuda;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Non-owning JavaCPP pointers whose address is set per call: the CUDA, cuDNN and cuBLAS bindings take
 * {@link Pointer} arguments, and a device address is a plain {@code long} here. Reusing a few mutable
 * instances keeps the per-op cost at a field write instead of an allocation. Nothing is freed through
 * them (they have no deallocator).
 */
final class Ptr extends Pointer {
    Ptr() {
        super((Pointer) null);
    }

    /** Points at {@code a} (position 0, no extent). */
    Ptr at(long a) {
        return at(a, 0);
    }

    /** Points at {@code a}, {@code bytes} long (typed views made from it keep the extent). */
    Ptr at(long a, long bytes) {
        this.address = a;
        this.position = 0;
        this.limit = bytes;
        this.capacity = bytes;
        return this;
    }

    /** A float-typed pointer (cuBLAS's single-precision routines take {@link FloatPointer}). */
    static final class F extends FloatPointer {
        F() {
            super((Pointer) null);
        }

        F at(long a) {
            this.address = a;
            this.position = 0;
            this.limit = 0;
            this.capacity = 0;
            return this;
        }
    }
}
