package org.arunet.backend.cuda;

import org.arunet.backend.ArunetException;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.cuda.global.cudnn;
import org.bytedeco.javacpp.BytePointer;

/**
 * Status checks of every CUDA runtime, driver, cuDNN and cuBLAS call: a failure becomes an
 * {@link ArunetException} naming the call, the error and what the caller adds (op, shapes).
 */
final class CudaCheck {
    private CudaCheck() {}

    /** A CUDA runtime status ({@code cudaError_t}). */
    static void runtime(int status, String call) {
        if (status != cudart.cudaSuccess) {
            throw new ArunetException(call + " failed: " + runtimeError(status));
        }
    }

    /** A CUDA driver status ({@code CUresult}). */
    static void driver(int status, String call) {
        if (status != cudart.CUDA_SUCCESS) {
            throw new ArunetException(call + " failed: " + driverError(status));
        }
    }

    /** A cuDNN status. */
    static void cudnn(int status, String call) {
        if (status != cudnn.CUDNN_STATUS_SUCCESS) {
            throw new ArunetException(call + " failed: " + cudnnError(status));
        }
    }

    /** A cuBLAS status. */
    static void cublas(int status, String call) {
        if (status != cublas.CUBLAS_STATUS_SUCCESS) {
            throw new ArunetException(call + " failed: " + cublasError(status));
        }
    }

    static String runtimeError(int status) {
        return string(cudart.cudaGetErrorName(status)) + " (" + status + "): "
                + string(cudart.cudaGetErrorString(status));
    }

    static String driverError(int status) {
        try (BytePointer name = new BytePointer((BytePointer) null);
                BytePointer text = new BytePointer((BytePointer) null)) {
            int a = cudart.cuGetErrorName(status, name);
            int b = cudart.cuGetErrorString(status, text);
            return (a == 0 ? string(name) : "CUresult") + " (" + status + ")" + (b == 0 ? ": " + string(text) : "");
        }
    }

    static String cudnnError(int status) {
        return string(cudnn.cudnnGetErrorString(status)) + " (" + status + ")";
    }

    static String cublasError(int status) {
        return string(cublas.cublasGetStatusName(status)) + " (" + status + "): "
                + string(cublas.cublasGetStatusString(status));
    }

    private static String string(BytePointer p) {
        return p == null || p.isNull() ? "?" : p.getString();
    }
}
