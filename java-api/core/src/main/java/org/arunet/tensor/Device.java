package org.arunet.tensor;

/** Where a tensor's memory lives. */
public enum Device {
    /** Host (CPU) memory, allocated natively and 64-byte aligned. */
    HOST,
    /** NVIDIA GPU memory. */
    CUDA
}
