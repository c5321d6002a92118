package org.arunet.model;

import java.util.Objects;
import java.util.Set;
import org.arunet.backend.Backend;
import org.arunet.backend.Conv2dSpec;
import org.arunet.backend.ConvEpilogue;
import org.arunet.nn.ActivationPool;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Conv2d;
import org.arunet.nn.Decoder;
import org.arunet.nn.Down;
import org.arunet.nn.Init;
import org.arunet.nn.SpConvMixer;
import org.arunet.nn.SpatialAttention;
import org.arunet.nn.Stem;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;

/**
 * ARU-Net, the attention residual U-Net of Liu et al., "Attention residual network for medical
 * ultrasound image segmentation", Scientific Reports 15, 22155 (2025). Widths shown for width 64:
 *
 * <pre>
 *  x [N,H,W,3]
 *   stem ─────────────────────────────────────────────── f1 64 ─────────────┐
 *   enc2 = maxpool 3/2/1 + Residual(64→128)  ─────────── f2 128 ──────────┐ │
 *   enc3 = maxpool + Residual(128→256)  ──────────────── f3 256 ────────┐ │ │
 *   enc4 = maxpool + Residual(256→512)  ──────────────── f4 512 ──────┐ │ │ │
 *   enc5 = maxpool + Residual(512→1024)  (H/16)                      │ │ │ │
 *   sa    spatial attention (7x7)                                     │ │ │ │
 *   mixer SpConvMixer: 5 x [depthwise kxk, GELU, BN, 1x1, GELU, BN] + x│ │ │ │
 *   dec4  up2, CBR(1024→512), [MCSA], cat f4, CA, CBR(1024→512) ◄─────┘ │ │ │
 *   dec3  up2, CBR(512→256),  MCSA,   cat f3, CA, CBR(512→256)  ◄───────┘ │ │
 *   dec2  up2, CBR(256→128),  MCSA,   cat f2, CA, CBR(256→128)  ◄─────────┘ │
 *   dec1  up2, CBR(128→64),   MCSA,   cat f1, CA, CBR(128→64)   ◄───────────┘
 *   head  conv1x1(64→classes)  → logits [N,H,W,classes]
 * </pre>
 *
 * <p>Input: NHWC F32, height and width multiples of {@value ArUNetConfig#SIZE_MULTIPLE}. Parameter and
 * buffer names equal the PyTorch reference's {@code state_dict} ({@code stem.a.conv.weight},
 * {@code enc2.block.shortcut.weight}, {@code mixer.0.dw.weight}, {@code dec3.mcsa.g_bn.running_var},
 * {@code head.bias}, ...), so weights trained with the reference load directly.
 *
 * <p>Training: {@link #forward} then {@link #backward} with d loss / d logits writes every parameter
 * gradient. Activation memory is kept per shape inside the modules and reused (see
 * {@link org.arunet.nn.Module}); the gradients of the backward pass come from a pool and are
 * released as soon as they are consumed, so they take the largest set alive at once.
 *
 * <p>Inference ({@link #eval()} mode): {@link #forward} runs the fused path: every batch norm folded
 * into its convolution, activations, residual sums, the MCSA gate and the concatenations in the
 * convolutions' epilogues or input blocks ({@link Backend#convForwardFused}), and every intermediate
 * tensor taken from one {@link ActivationPool} and returned as soon as it is dead, so memory is the
 * largest set of live values rather than all of them. {@link #setFusedInference(boolean)
 * setFusedInference(false)} runs the modules' unfused forward instead (same results up to rounding).
 * One instance is used by one thread at a time.
 */
public final class ArUNet extends SegmentationModel {
    private final ArUNetConfig config;
    private final Stem stem;
    private final Down enc2;
    private final Down enc3;
    private final Down enc4;
    private final Down enc5;
    private final SpatialAttention sa;
    private final SpConvMixer mixer;
    private final Decoder dec4;
    private final Decoder dec3;
    private final Decoder dec2;
    private final Decoder dec1;
    private final Conv2d head;
    private boolean fusedInference;
    private ActivationPool pool;
    private int[] plannedShape;
    private final ActivationPool gradients;

    /** Builds the network with the given backend; parameters are initialised with {@code init} and {@code seed}. */
    public ArUNet(Backend backend, ArUNetConfig config, Init.Scheme init, long seed) {
        super(backend);
        this.config = Objects.requireNonNull(config, "config");
        this.fusedInference = backend.fusedInferenceByDefault();
        int[] c = config.stageWidths();
        boolean res = config.residual();
        Set<Integer> mcsa = config.mcsaStages();
        ChannelAttention.Kind ca = config.channelAttention();
        stem = child("stem", new Stem(backend, config.inChannels(), c[0]));
        enc2 = child("enc2", new Down(backend, c[0], c[1], res));
        enc3 = child("enc3", new Down(backend, c[1], c[2], res));
        enc4 = child("enc4", new Down(backend, c[2], c[3], res));
        enc5 = child("enc5", new Down(backend, c[3], c[4], res));
        sa = config.spatialAttention() ? child("sa", new SpatialAttention(backend, config.spatialKernel())) : null;
        mixer = config.mixer() && config.mixerDepth() > 0
                ? child("mixer", new SpConvMixer(backend, c[4], config.mixerKernel(), config.mixerDepth()))
                : null;
        dec4 = child("dec4", new Decoder(backend, c[4], c[3], mcsa.contains(4), ca));
        dec3 = child("dec3", new Decoder(backend, c[3], c[2], mcsa.contains(3), ca));
        dec2 = child("dec2", new Decoder(backend, c[2], c[1], mcsa.contains(2), ca));
        dec1 = child("dec1", new Decoder(backend, c[1], c[0], mcsa.contains(1), ca));
        head = child("head", new Conv2d(backend, Conv2dSpec.same(c[0], config.classes(), 1, 1, 1, true)));
        gradients = new ActivationPool(backend);
        useGradientPool(gradients);
        Init.apply(this, init, seed);
    }

    public static Builder builder() {
        return new Builder();
    }

    public ArUNetConfig config() {
        return config;
    }

    @Override
    public int inChannels() {
        return config.inChannels();
    }

    @Override
    public int classes() {
        return config.classes();
    }

    @Override
    public int sizeMultiple() {
        return ArUNetConfig.SIZE_MULTIPLE;
    }

    @Override
    public java.util.Map<String, String> architecture() {
        return config.toMap();
    }

    /** Checks an input before any computation; throws {@link IllegalArgumentException} naming both shapes. */
    public void checkInput(Tensor x) {
        String expected = "NHWC F32 [N, H, W, " + config.inChannels() + "] with H and W multiples of "
                + ArUNetConfig.SIZE_MULTIPLE;
        if (x == null
                || x.rank() != 4
                || x.layout() != Layout.NHWC
                || x.dim(3) != config.inChannels()
                || x.dim(0) < 1
                || x.dim(1) < ArUNetConfig.SIZE_MULTIPLE
                || x.dim(2) < ArUNetConfig.SIZE_MULTIPLE
                || x.dim(1) % ArUNetConfig.SIZE_MULTIPLE != 0
                || x.dim(2) % ArUNetConfig.SIZE_MULTIPLE != 0) {
            throw new IllegalArgumentException(
                    "ArUNet: input must be " + expected + ", got " + (x == null ? "null" : x.describe()));
        }
    }

    /**
     * Whether eval-mode {@link #forward} takes the fused inference path (default: the backend's
     * {@link Backend#fusedInferenceByDefault()}, true on CPU); false runs the unfused modules, as in
     * training but with running statistics.
     */
    public void setFusedInference(boolean on) {
        fusedInference = on;
    }

    public boolean fusedInference() {
        return fusedInference;
    }

    /** Bytes of the inference pool's buffers (0 before the first fused inference pass). */
    public long inferencePoolBytes() {
        return pool == null ? 0 : pool.bytes();
    }

    /** The inference pool's peak of bytes lent at once (the live activations' peak). */
    public long inferencePoolPeakBytes() {
        return pool == null ? 0 : pool.peakLentBytes();
    }

    /** Logits NHWC {@code [N, H, W, classes]} (owned by the model, valid until the next call). */
    @Override
    public Tensor forward(Tensor x) {
        checkInput(x);
        if (!training && fusedInference) {
            return infer(x);
        }
        Tensor f1 = stem.forward(x);
        Tensor f2 = enc2.forward(f1);
        Tensor f3 = enc3.forward(f2);
        Tensor f4 = enc4.forward(f3);
        Tensor z = enc5.forward(f4);
        if (sa != null) {
            z = sa.forward(z);
        }
        if (mixer != null) {
            z = mixer.forward(z);
        }
        z = dec4.forward(z, f4);
        z = dec3.forward(z, f3);
        z = dec2.forward(z, f2);
        z = dec1.forward(z, f1);
        return head.forward(z);
    }

    /**
     * The fused inference pass; see the class comment. The first pass at an input shape is preceded
     * by a probe pass at 16 x 16 whose request sequence the pool records and lays out in one arena
     * ({@link ActivationPool#plan}): every activation's size is proportional to H W, so the plan
     * scaled by {@code (H / 16) (W / 16)} serves the real pass at its live peak, with no fragmented
     * first pass. (Were a request to differ, the pool would drop the plan and serve by best fit.)
     */
    private Tensor infer(Tensor x) {
        if (pool == null) {
            pool = new ActivationPool(backend);
        }
        int[] shape = {x.dim(0), x.dim(1), x.dim(2)};
        if (!java.util.Arrays.equals(shape, plannedShape) || !pool.planned()) {
            pool.close();
            try (Tensor probe = backend.allocate(
                    DType.F32,
                    Layout.NHWC,
                    x.dim(0),
                    ArUNetConfig.SIZE_MULTIPLE,
                    ArUNetConfig.SIZE_MULTIPLE,
                    x.dim(3))) {
                pool.record();
                inferPass(probe);
            }
            pool.plan((long) (x.dim(1) / ArUNetConfig.SIZE_MULTIPLE) * (x.dim(2) / ArUNetConfig.SIZE_MULTIPLE));
            plannedShape = shape;
        }
        pool.beginPass();
        return inferPass(x);
    }

    private Tensor inferPass(Tensor x) {
        Tensor f1 = stem.infer(x, pool);
        Tensor f2 = enc2.infer(f1, pool);
        Tensor f3 = enc3.infer(f2, pool);
        Tensor f4 = enc4.infer(f3, pool);
        Tensor z = enc5.infer(f4, pool);
        if (sa != null) {
            Tensor a = sa.infer(z, pool);
            pool.release(z);
            z = a;
        }
        if (mixer != null) {
            Tensor m = mixer.infer(z, pool);
            if (m != z) {
                pool.release(z);
            }
            z = m;
        }
        Tensor[] skips = {f4, f3, f2, f1};
        Decoder[] decs = {dec4, dec3, dec2, dec1};
        for (int i = 0; i < 4; i++) {
            Tensor d = decs[i].infer(z, skips[i], pool);
            pool.release(z);
            pool.release(skips[i]);
            z = d;
        }
        Tensor logits = scratch("logits", Layout.NHWC, x.dim(0), x.dim(1), x.dim(2), config.classes());
        head.inferInto(z, null, logits, ConvEpilogue.none());
        pool.release(z);
        return logits;
    }

    /**
     * Training mode frees the inference pool (the next eval pass makes it again: a validation pass per
     * epoch costs one round of page faults), so training and inference buffers do not add up.
     */
    @Override
    public ArUNet train(boolean on) {
        super.train(on);
        if (on && pool != null) {
            pool.close();
            pool = null;
            plannedShape = null;
        }
        return this;
    }

    /** Also frees the inference pool and the gradient pool. */
    @Override
    public void releaseActivations() {
        super.releaseActivations();
        if (pool != null) {
            pool.close();
            pool = null;
            plannedShape = null;
        }
        if (gradients != null) {
            gradients.close();
        }
    }

    /**
     * Backward pass of the last (training-mode) {@link #forward}: writes the gradient of every
     * parameter given {@code dLogits} = d loss / d logits.
     */
    @Override
    public void backward(Tensor dLogits) {
        Tensor dz = head.backward(dLogits);
        Decoder[] decs = {dec1, dec2, dec3, dec4};
        for (Decoder dec : decs) {
            dec.backward(dz);
            done(dz);
            dz = dec.inputGrad();
        }
        if (mixer != null) {
            Tensor t = mixer.backward(dz);
            if (t != dz) {
                done(dz);
            }
            dz = t;
        }
        if (sa != null) {
            Tensor t = sa.backward(dz);
            done(dz);
            dz = t;
        }
        Down[] encs = {enc5, enc4, enc3, enc2};
        for (int i = 0; i < 4; i++) {
            Tensor df = encs[i].backward(dz);
            done(dz);
            Tensor skip = decs[3 - i].skipGrad();
            backend.addInPlace(df, skip);
            done(skip);
            dz = df;
        }
        stem.backward(dz, false);
        done(dz);
    }

    /** Gradients lent by the gradient pool and not given back (0 between passes; tests). */
    int gradientsLent() {
        return gradients.lent();
    }

    /** Bytes of the gradient pool's buffers (0 before the first backward pass). */
    public long gradientPoolBytes() {
        return gradients.bytes();
    }

    /**
     * Multiply-accumulates of one forward pass for one image of the given size (convolutions and linear
     * layers, as the reference's {@code count_macs}).
     */
    @Override
    public long macs(int height, int width) {
        return Macs.of(this, height, width);
    }

    @Override
    public String toString() {
        return "ArUNet" + config.toMap() + ", " + parameterCount() + " parameters";
    }

    /**
     * Fluent construction: {@code ArUNet.builder().width(64).mixerKernel(3).classes(2).build()}. The
     * initialisation defaults to {@link Init.Scheme#PYTORCH} (the standard training recipe's, which
     * learns faster on small budgets); {@code init(Init.Scheme.AUTHORS)} is the paper's.
     */
    public static final class Builder {
        private ArUNetConfig config = ArUNetConfig.paper();
        private Backend backend;
        private Init.Scheme init = Init.Scheme.PYTORCH;
        private long seed = 0;

        public Builder config(ArUNetConfig c) {
            config = Objects.requireNonNull(c);
            return this;
        }

        public Builder inChannels(int v) {
            config = config.withInChannels(v);
            return this;
        }

        public Builder classes(int v) {
            config = config.withClasses(v);
            return this;
        }

        public Builder width(int v) {
            config = config.withWidth(v);
            return this;
        }

        public Builder mixerKernel(int v) {
            config = config.withMixerKernel(v);
            return this;
        }

        public Builder mixerDepth(int v) {
            config = config.withMixerDepth(v);
            return this;
        }

        public Builder channelAttention(ChannelAttention.Kind v) {
            config = config.withChannelAttention(v);
            return this;
        }

        public Builder mcsaStages(Integer... stages) {
            config = config.withMcsaStages(stages);
            return this;
        }

        public Builder spatialAttention(boolean v) {
            config = config.withSpatialAttention(v);
            return this;
        }

        public Builder spatialKernel(int v) {
            config = config.withSpatialKernel(v);
            return this;
        }

        public Builder mixer(boolean v) {
            config = config.withMixer(v);
            return this;
        }

        public Builder residual(boolean v) {
            config = config.withResidual(v);
            return this;
        }

        public Builder backend(Backend b) {
            backend = b;
            return this;
        }

        public Builder init(Init.Scheme s) {
            init = Objects.requireNonNull(s);
            return this;
        }

        public Builder seed(long s) {
            seed = s;
            return this;
        }

        public ArUNet build() {
            if (backend == null) {
                throw new IllegalArgumentException("ArUNet.builder(): no backend given (e.g. Backends.cpu())");
            }
            return new ArUNet(backend, config, init, seed);
        }
    }
}
