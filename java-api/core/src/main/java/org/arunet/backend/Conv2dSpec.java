package org.arunet.backend;

/**
 * A 2-D convolution's hyper-parameters, PyTorch semantics ({@code nn.Conv2d}): input NHWC
 * {@code [N, H, W, inChannels]}, weights OIHW {@code [outChannels, inChannels / groups, kernelH,
 * kernelW]}, optional bias {@code [outChannels]}, output NHWC {@code [N, OH, OW, outChannels]} with
 * {@code OH = (H + 2 padH - dilationH (kernelH - 1) - 1) / strideH + 1} (likewise OW).
 */
public record Conv2dSpec(
        int inChannels,
        int outChannels,
        int kernelH,
        int kernelW,
        int strideH,
        int strideW,
        int padH,
        int padW,
        int dilationH,
        int dilationW,
        int groups,
        boolean bias) {

    public Conv2dSpec {
        if (inChannels <= 0
                || outChannels <= 0
                || kernelH <= 0
                || kernelW <= 0
                || strideH <= 0
                || strideW <= 0
                || padH < 0
                || padW < 0
                || dilationH <= 0
                || dilationW <= 0
                || groups <= 0) {
            throw new IllegalArgumentException("invalid convolution "
                    + describe(inChannels, outChannels, kernelH, kernelW, strideH, padH, dilationH, groups));
        }
        if (inChannels % groups != 0 || outChannels % groups != 0) {
            throw new IllegalArgumentException(
                    "groups=" + groups + " must divide in=" + inChannels + " and out=" + outChannels);
        }
    }

    /** Square kernel, stride, padding and dilation. */
    public static Conv2dSpec of(
            int in, int out, int kernel, int stride, int pad, int dilation, int groups, boolean bias) {
        return new Conv2dSpec(in, out, kernel, kernel, stride, stride, pad, pad, dilation, dilation, groups, bias);
    }

    /** PyTorch's "same" padding for odd kernels: {@code dilation * (kernel / 2)}, stride 1. */
    public static Conv2dSpec same(int in, int out, int kernel, int dilation, int groups, boolean bias) {
        return of(in, out, kernel, 1, dilation * (kernel / 2), dilation, groups, bias);
    }

    /** Output height; 0 or less when the padded input is smaller than the dilated kernel. */
    public int outH(int h) {
        return Math.floorDiv(h + 2 * padH - dilationH * (kernelH - 1) - 1, strideH) + 1;
    }

    /** Output width; 0 or less when the padded input is smaller than the dilated kernel. */
    public int outW(int w) {
        return Math.floorDiv(w + 2 * padW - dilationW * (kernelW - 1) - 1, strideW) + 1;
    }

    /** Weight shape OIHW. */
    public int[] weightShape() {
        return new int[] {outChannels, inChannels / groups, kernelH, kernelW};
    }

    /** Multiply-accumulates for one output image of size oh x ow. */
    public long macs(int oh, int ow) {
        return (long) oh * ow * outChannels * (inChannels / groups) * kernelH * kernelW;
    }

    private static String describe(int in, int out, int k, int kw, int s, int p, int d, int g) {
        return "conv(in=" + in + ", out=" + out + ", k=" + k + "x" + kw + ", s=" + s + ", p=" + p + ", d=" + d + ", g="
                + g + ")";
    }

    @Override
    public String toString() {
        return "conv(" + inChannels + "->" + outChannels + ", k=" + kernelH + "x" + kernelW + ", s=" + strideH
                + ", p=" + padH + ", d=" + dilationH + (groups > 1 ? ", groups=" + groups : "")
                + (bias ? ", bias" : "") + ")";
    }
}
