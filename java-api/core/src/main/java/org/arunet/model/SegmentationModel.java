package org.arunet.model;

import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.nn.Module;
import org.arunet.tensor.Tensor;

/**
 * A network that maps NHWC images {@code [N, H, W, inChannels]} to per-pixel class logits
 * {@code [N, H, W, classes]}, trainable by forward and backward passes. ARU-Net and the baselines
 * (U-Net, Attention U-Net) implement it; the trainer, segmenter and checkpoints work with any of them.
 */
public abstract class SegmentationModel extends Module {
    protected SegmentationModel(Backend backend) {
        super(backend);
    }

    /** Image channels expected. */
    public abstract int inChannels();

    /** Output classes, background included. */
    public abstract int classes();

    /** Height and width of inputs must be multiples of this. */
    public abstract int sizeMultiple();

    /** Logits NHWC (owned by the model, valid until the next call). */
    public abstract Tensor forward(Tensor x);

    /** Writes every parameter gradient from d loss / d logits of the last training-mode forward pass. */
    public abstract void backward(Tensor dLogits);

    /**
     * The architecture as string pairs: key {@code arch} names it ("aru-net", "unet",
     * "attention-unet"), the rest are its options. {@link Models#create} rebuilds the model from it.
     */
    public abstract Map<String, String> architecture();

    /** Multiply-accumulates of one forward pass for one image. */
    public abstract long macs(int height, int width);
}
