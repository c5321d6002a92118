package org.arunet.jni;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Namespace;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;
import org.bytedeco.javacpp.annotation.StdString;

/**
 * JavaCPP binding of the CPU kernels ({@code native/src/main/cpp/include/arunet/ops.h}), one static
 * method per C++ entry point, same name and argument order (outputs, saved statistics, inputs,
 * parameters, sizes).
 *
 * <p>Tensors travel as raw absolute addresses ({@code Tensor.address()}, {@code 0} for an absent
 * optional tensor); the two native objects, the context and a convolution, travel as opaque
 * {@code long} handles owned by {@code org.arunet.backend.cpu.CpuBackend} and its convolution ops,
 * which free them deterministically. Callers must validate shapes first: the native side re-checks
 * only what would make it read or write out of bounds, and reports failures as a
 * {@link RuntimeException} whose message names the op and the sizes (a C++ exception crossing JNI).
 *
 * <p>Not part of the public API: use it through {@code CpuBackend}.
 */
@Properties(value = @Platform(include = "arunet/ops.h", compiler = "cpp17"))
@Namespace("arunet")
public final class ArunetNative {
    static {
        // oneDNN first: it brings libdnnl.so.3 and its libgomp.so.1 into the process for our library
        Loader.load(org.bytedeco.dnnl.global.dnnl.class);
        Loader.load();
    }

    private ArunetNative() {}

    /** Forces the native libraries to load (throws {@link UnsatisfiedLinkError} if they cannot). */
    public static void load() {
        // the static initializer did the work
    }

    // ------------------------------------------------------------------ context

    public static native @Cast("jlong") long context_create(int threads);

    public static native void context_destroy(@Cast("arunet::CpuContext*") long ctx);

    public static native void context_set_threads(@Cast("arunet::CpuContext*") long ctx, int threads);

    public static native int context_region_threads(@Cast("arunet::CpuContext*") long ctx);

    public static native long context_workspace_bytes(@Cast("arunet::CpuContext*") long ctx);

    /** True when oneDNN has a native (non-reference) bf16 convolution kernel for this CPU. */
    public static native boolean context_bf16_supported(@Cast("arunet::CpuContext*") long ctx);

    // ------------------------------------------------------------------ basics

    public static native void copy_bytes(
            @Cast("arunet::CpuContext*") long ctx, @Cast("void*") long dst, @Cast("const void*") long src, long bytes);

    public static native void fill(
            @Cast("arunet::CpuContext*") long ctx, @Cast("float*") long out, float value, long n);

    public static native void add_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long a,
            @Cast("const float*") long b,
            long n);

    public static native void add_inplace(
            @Cast("arunet::CpuContext*") long ctx, @Cast("float*") long y, @Cast("const float*") long x, long n);

    public static native void scale_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            float alpha,
            long n);

    public static native double sum_of_squares(
            @Cast("arunet::CpuContext*") long ctx, @Cast("const float*") long x, long n);

    // ------------------------------------------------------------------ convolution (oneDNN)

    /** up2: the layer convolves the 2x nearest-upsampled input (3x3, stride 1, padding 1 only). */
    public static native @Cast("jlong") long conv2d_create(
            @Cast("arunet::CpuContext*") long ctx,
            long ic,
            long oc,
            long kh,
            long kw,
            long sh,
            long sw,
            long ph,
            long pw,
            long dh,
            long dw,
            long groups,
            boolean bias,
            boolean up2);

    public static native void conv2d_destroy(@Cast("arunet::cpu::Conv2d*") long conv);

    /** Training passes with bf16 operands (f32 accumulation, f32 outputs) when bf16 is true. */
    public static native void conv2d_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("arunet::cpu::Conv2d*") long conv,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            @Cast("const float*") long w,
            long wId,
            long wVersion,
            @Cast("const float*") long b,
            long n,
            long h,
            long w2,
            boolean training,
            boolean bf16);

    /**
     * Inference forward with a folded batch norm (scale, shift, tagged by fold) and a post-op recipe
     * whose tensor operands are op0..op3 in chain order; x2 (0: none) is the second channel block of
     * the input, c1 the channels of x.
     */
    public static native void conv2d_forward_fused(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("arunet::cpu::Conv2d*") long conv,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            @Cast("const float*") long x2,
            long c1,
            @Cast("const float*") long w,
            long wId,
            long wVersion,
            @Cast("const float*") long b,
            @Cast("const float*") long scale,
            @Cast("const float*") long shift,
            long fold,
            int recipe,
            @Cast("const float*") long op0,
            @Cast("const float*") long op1,
            @Cast("const float*") long op2,
            @Cast("const float*") long op3,
            long n,
            long h,
            long w2,
            boolean bf16);

    public static native void conv2d_backward_data(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("arunet::cpu::Conv2d*") long conv,
            @Cast("float*") long dx,
            @Cast("const float*") long dy,
            @Cast("const float*") long w,
            long wId,
            long wVersion,
            long n,
            long h,
            long w2,
            boolean bf16);

    public static native void conv2d_backward_weights(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("arunet::cpu::Conv2d*") long conv,
            @Cast("float*") long dw,
            @Cast("float*") long db,
            @Cast("const float*") long x,
            @Cast("const float*") long dy,
            long n,
            long h,
            long w2,
            boolean bf16);

    /**
     * pass: 0 forward inference, 1 forward training, 2 backward data, 3 backward weights; recipe >= 0:
     * the fused inference forward with that post-op recipe, f32 or bf16.
     */
    public static native @StdString String conv2d_implementation(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("arunet::cpu::Conv2d*") long conv,
            int pass,
            int recipe,
            boolean bf16,
            long n,
            long h,
            long w);

    public static native long conv2d_weight_reorders(@Cast("arunet::cpu::Conv2d*") long conv);

    // ------------------------------------------------------------------ batch normalisation

    public static native void batchnorm_forward_train(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("float*") long saveMean,
            @Cast("float*") long saveInvStd,
            @Cast("float*") long runningMean,
            @Cast("float*") long runningVar,
            @Cast("const float*") long x,
            @Cast("const float*") long gamma,
            @Cast("const float*") long beta,
            long m,
            long c,
            float momentum,
            float eps,
            boolean relu);

    public static native void batchnorm_forward_eval(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            @Cast("const float*") long gamma,
            @Cast("const float*") long beta,
            @Cast("const float*") long runningMean,
            @Cast("const float*") long runningVar,
            long m,
            long c,
            float eps,
            boolean relu);

    public static native void batchnorm_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("float*") long dGamma,
            @Cast("float*") long dBeta,
            @Cast("const float*") long dy,
            @Cast("const float*") long x,
            @Cast("const float*") long y,
            @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean,
            @Cast("const float*") long saveInvStd,
            long m,
            long c,
            boolean relu);

    // ------------------------------------------------------------------ activations (act: Activation ordinal)

    public static native void activation_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            int act,
            long n);

    public static native void activation_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("const float*") long x,
            @Cast("const float*") long y,
            @Cast("const float*") long dy,
            int act,
            long n);

    // ------------------------------------------------------------------ pooling

    public static native void maxpool_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            long n,
            long h,
            long w,
            long c,
            long oh,
            long ow,
            int kernel,
            int stride,
            int pad);

    public static native void maxpool_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("const float*") long x,
            @Cast("const float*") long dy,
            long n,
            long h,
            long w,
            long c,
            long oh,
            long ow,
            int kernel,
            int stride,
            int pad);

    public static native void globalpool_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long max,
            @Cast("float*") long avg,
            @Cast("const float*") long x,
            long n,
            long hw,
            long c);

    public static native void globalpool_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("const float*") long x,
            @Cast("const float*") long max,
            @Cast("const float*") long dMax,
            @Cast("const float*") long dAvg,
            long n,
            long hw,
            long c);

    public static native void channelmaxmean_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long out,
            @Cast("const float*") long x,
            long p,
            long c);

    public static native void channelmaxmean_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("const float*") long x,
            @Cast("const float*") long out,
            @Cast("const float*") long dOut,
            long p,
            long c);

    // ------------------------------------------------------------------ resampling and concatenation

    public static native void upsample2x_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            long n,
            long h,
            long w,
            long c);

    public static native void upsample2x_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("const float*") long dy,
            long n,
            long h,
            long w,
            long c);

    public static native void concat_channels(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long out,
            @Cast("const float*") long a,
            @Cast("const float*") long b,
            long p,
            long ca,
            long cb);

    public static native void split_channels(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long da,
            @Cast("float*") long db,
            @Cast("const float*") long dOut,
            long p,
            long ca,
            long cb);

    // ------------------------------------------------------------------ broadcasting product (mode 0 same, 1 pixel, 2
    // channel)

    public static native void mul_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            @Cast("const float*") long w,
            int mode,
            long n,
            long hw,
            long c);

    public static native void mul_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("float*") long dw,
            @Cast("const float*") long dy,
            @Cast("const float*") long x,
            @Cast("const float*") long w,
            int mode,
            long n,
            long hw,
            long c);

    // ------------------------------------------------------------------ linear

    public static native void linear_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long y,
            @Cast("const float*") long x,
            @Cast("const float*") long w,
            @Cast("const float*") long b,
            long n,
            long in,
            long out);

    public static native void linear_backward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dx,
            @Cast("float*") long dw,
            @Cast("float*") long db,
            @Cast("const float*") long dy,
            @Cast("const float*") long x,
            @Cast("const float*") long w,
            long n,
            long in,
            long out);

    // ------------------------------------------------------------------ softmax and loss

    public static native void softmax_forward(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long probs,
            @Cast("const float*") long logits,
            long p,
            long k);

    public static native long find_invalid_target(
            @Cast("arunet::CpuContext*") long ctx, @Cast("const std::int32_t*") long target, long p, long k);

    public static native double cross_entropy_dice(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dLogits,
            @Cast("const float*") long logits,
            @Cast("const std::int32_t*") long target,
            long p,
            long k,
            float ceWeight,
            float diceWeight,
            float smooth);

    public static native double focal_tversky(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long dLogits,
            @Cast("const float*") long logits,
            @Cast("const std::int32_t*") long target,
            long p,
            long k,
            float alpha,
            float beta,
            float gamma,
            float smooth);

    // ------------------------------------------------------------------ optimizer

    public static native void adam_step(
            @Cast("arunet::CpuContext*") long ctx,
            @Cast("float*") long param,
            @Cast("float*") long m,
            @Cast("float*") long v,
            @Cast("const float*") long grad,
            long n,
            float lr,
            float beta1,
            float beta2,
            float eps,
            float weightDecay,
            long step);
}
