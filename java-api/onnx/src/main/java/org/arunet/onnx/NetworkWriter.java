package org.arunet.onnx;

import static org.arunet.onnx.OnnxGraph.floatAttr;
import static org.arunet.onnx.OnnxGraph.in;
import static org.arunet.onnx.OnnxGraph.intAttr;
import static org.arunet.onnx.OnnxGraph.ints;
import static org.arunet.onnx.OnnxGraph.stringAttr;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.arunet.backend.Activation;
import org.arunet.backend.Conv2dSpec;
import org.arunet.model.ArUNet;
import org.arunet.model.SegmentationModel;
import org.arunet.model.UNet;
import org.arunet.nn.AttentionGate;
import org.arunet.nn.BatchNorm2d;
import org.arunet.nn.CBR;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Conv2d;
import org.arunet.nn.Decoder;
import org.arunet.nn.DoubleConv;
import org.arunet.nn.Down;
import org.arunet.nn.Linear;
import org.arunet.nn.MCSA;
import org.arunet.nn.MixerBlock;
import org.arunet.nn.Module;
import org.arunet.nn.Residual;
import org.arunet.nn.SpConvMixer;
import org.arunet.nn.SpatialAttention;
import org.arunet.nn.Stem;
import org.arunet.tensor.DType;
import org.arunet.tensor.Tensor;

/**
 * Writes a model's inference graph into an {@link OnnxGraph}, module by module, in NCHW. Each
 * method mirrors the {@code forward} of one of our modules (same operations, same order of
 * concatenation) and names its nodes after the module's path ({@code dec3.mcsa.g}, {@code dec3.mcsa.g_bn},
 * {@code enc2.pool}, ...); weights become initializers under their state-dict names
 * ({@code dec3.mcsa.g.weight}). BatchNorm uses the running statistics (inference semantics).
 *
 * <p>Every parameter and buffer of the model must be consumed by some node: a module the writer does
 * not know (a new option) makes the export fail naming it, instead of silently dropping it.
 */
final class NetworkWriter {
    private static final float SQRT2 = (float) Math.sqrt(2.0);

    private final SegmentationModel model;
    private final OnnxGraph g;
    private final Map<String, Module> modules = new HashMap<>();
    private final Map<String, Tensor> state;
    private final Set<String> used = new HashSet<>();

    NetworkWriter(SegmentationModel model, OnnxGraph graph) {
        this.model = model;
        this.g = graph;
        for (Module m : model.modules()) {
            if (m != model) {
                modules.put(m.path(), m);
            }
        }
        this.state = model.stateDict();
    }

    /** Writes the network from {@code image} (NCHW) to the logits value {@code logitsName}. */
    void write(String image, String logitsName) {
        if (model instanceof ArUNet) {
            aruNet(image, logitsName);
        } else if (model instanceof UNet) {
            unet(image, logitsName);
        } else {
            throw new IllegalArgumentException(
                    "ONNX export: no exporter for " + model.getClass().getName()
                            + " (architecture " + model.architecture().get("arch") + "); supported: aru-net, unet,"
                            + " attention-unet");
        }
        List<String> left = new ArrayList<>();
        for (String k : state.keySet()) {
            if (!used.contains(k)) {
                left.add(k);
            }
        }
        if (!left.isEmpty()) {
            Set<String> owners = new TreeSet<>();
            for (String k : left) {
                owners.add(k.substring(0, Math.max(0, k.lastIndexOf('.'))));
            }
            throw new IllegalArgumentException(
                    "ONNX export of " + model.architecture().get("arch")
                            + ": the exporter does not support module(s) " + owners + " (tensors " + left + " would be"
                            + " left out)");
        }
    }

    // ------------------------------------------------------------------ networks

    private void aruNet(String x, String out) {
        String f1 = stem("stem", x);
        String f2 = down("enc2", f1);
        String f3 = down("enc3", f2);
        String f4 = down("enc4", f3);
        String z = down("enc5", f4);
        if (has("sa")) {
            z = spatialAttention("sa", z);
        }
        if (has("mixer")) {
            z = mixer("mixer", z);
        }
        z = decoder("dec4", z, f4);
        z = decoder("dec3", z, f3);
        z = decoder("dec2", z, f2);
        z = decoder("dec1", z, f1);
        conv("head", z, out);
    }

    private void unet(String x, String out) {
        String[] feats = new String[6];
        String z = x;
        for (int i = 1; i <= 5; i++) {
            String path = "enc" + i;
            if (i > 1) {
                z = maxPool(path + ".pool", z, 2, 2, 0);
            }
            feats[i] = doubleConv(path, z);
            z = feats[i];
        }
        for (int lvl = 4; lvl >= 1; lvl--) {
            z = unetStage("dec" + lvl, z, feats[lvl]);
        }
        conv("head", z, out);
    }

    // ------------------------------------------------------------------ blocks

    /** {@link Stem}: {@code x1 = a(x); out = x1 + b(x1)}. */
    private String stem(String path, String x) {
        module(path, Stem.class);
        String x1 = cbr(path + ".a", x);
        return add(path + ".add", x1, cbr(path + ".b", x1));
    }

    /** {@link Down}: max pool 3/2/1, then the {@link Residual} block. */
    private String down(String path, String x) {
        module(path, Down.class);
        return residual(path + ".block", maxPool(path + ".pool", x, 3, 2, 1));
    }

    /** {@link Residual}: {@code y = a(x) + shortcut(x); out = y + b(y)}, or {@code b(a(x))} without shortcut. */
    private String residual(String path, String x) {
        module(path, Residual.class);
        if (!has(path + ".shortcut")) {
            return cbr(path + ".b", cbr(path + ".a", x));
        }
        String y = add(path + ".add_shortcut", cbr(path + ".a", x), conv(path + ".shortcut", x));
        return add(path + ".add", y, cbr(path + ".b", y));
    }

    /** {@link SpatialAttention}: {@code x * sigmoid(conv([max_c x, mean_c x]))}. */
    private String spatialAttention(String path, String x) {
        module(path, SpatialAttention.class);
        String max = g.node("ReduceMax", path + ".max", in(x), ints("axes", 1), intAttr("keepdims", 1));
        String mean = g.node("ReduceMean", path + ".mean", in(x), ints("axes", 1), intAttr("keepdims", 1));
        String s = concat(path + ".cat", max, mean);
        String w = g.node("Sigmoid", path + ".sigmoid", in(conv(path + ".conv", s)));
        return g.node("Mul", path + ".mul", in(x, w));
    }

    /** {@link SpConvMixer}: its blocks "0", "1", ... in sequence. */
    private String mixer(String path, String x) {
        SpConvMixer m = module(path, SpConvMixer.class);
        for (int i = 0; i < m.blocks().size(); i++) {
            x = mixerBlock(path + "." + i, x);
        }
        return x;
    }

    /** {@link MixerBlock}: {@code x + bn2(gelu(pw(bn1(gelu(dw(x))))))}. */
    private String mixerBlock(String path, String x) {
        module(path, MixerBlock.class);
        String a1 = gelu(path + ".gelu1", conv(path + ".dw", x));
        String a2 = gelu(path + ".gelu2", conv(path + ".pw", batchNorm(path + ".bn1", a1)));
        return add(path + ".add", x, batchNorm(path + ".bn2", a2));
    }

    /** {@link Decoder}: {@code fuse(ca(cat[mcsa(up(up2(x))), skip]))}, MCSA and CA when present. */
    private String decoder(String path, String x, String skip) {
        module(path, Decoder.class);
        String u = cbr(path + ".up", upsample2x(path + ".upsample", x));
        if (has(path + ".mcsa")) {
            u = mcsa(path + ".mcsa", u);
        }
        String z = concat(path + ".cat", u, skip);
        if (has(path + ".ca")) {
            z = channelAttention(path + ".ca", z);
        }
        return cbr(path + ".fuse", z);
    }

    /** {@link MCSA}: {@code x + d_bn(d(x)) * sigmoid(g_bn(g(cat[relu(p_bn(p(x))), relu(o_bn(o(x)))])))}. */
    private String mcsa(String path, String x) {
        module(path, MCSA.class);
        String p = batchNorm(path + ".p_bn", conv(path + ".p", x));
        String o = batchNorm(path + ".o_bn", conv(path + ".o", x));
        String po = concat(path + ".cat", p, o);
        String gate = g.node("Sigmoid", path + ".sigmoid", in(batchNorm(path + ".g_bn", conv(path + ".g", po))));
        String d = batchNorm(path + ".d_bn", conv(path + ".d", x));
        String dg = g.node("Mul", path + ".mul", in(d, gate));
        return add(path + ".add", dg, x);
    }

    /** {@link ChannelAttention}, paper form (max and average branches, product) or squeeze-excitation. */
    private String channelAttention(String path, String x) {
        ChannelAttention ca = module(path, ChannelAttention.class);
        String avg = g.node(
                "Flatten",
                path + ".avg",
                in(g.node("GlobalAveragePool", path + ".avg_pool", in(x))),
                intAttr("axis", 1));
        String v;
        if (ca.kind() == ChannelAttention.Kind.PAPER) {
            String max = g.node(
                    "Flatten",
                    path + ".max",
                    in(g.node("GlobalMaxPool", path + ".max_pool", in(x))),
                    intAttr("axis", 1));
            String h = g.node(
                    "Mul", path + ".mul_hidden", in(linear(path + ".fc_max", max), linear(path + ".fc_avg", avg)));
            v = linear(path + ".fc_out", h);
        } else if (ca.kind() == ChannelAttention.Kind.SE) {
            String h = g.node("Relu", path + ".relu", in(linear(path + ".fc1", avg)));
            v = linear(path + ".fc2", h);
        } else {
            throw new IllegalArgumentException(
                    "ONNX export: channel attention kind " + ca.kind() + " at " + path + " is not supported");
        }
        String w = g.node("Sigmoid", path + ".sigmoid", in(v));
        String w4 = g.node("Unsqueeze", path + ".unsqueeze", in(w, g.constantInts("axes_hw", 2, 3)));
        return g.node("Mul", path + ".mul", in(x, w4));
    }

    /** U-Net decoder stage: {@code conv(cat[u, gate(u, skip)])} with {@code u = up(up2(x))}, gate when present. */
    private String unetStage(String path, String x, String skip) {
        module(path, Module.class);
        String u = cbr(path + ".up", upsample2x(path + ".upsample", x));
        String sk = has(path + ".gate") ? attentionGate(path + ".gate", u, skip) : skip;
        return doubleConv(path + ".conv", concat(path + ".cat", u, sk));
    }

    /** {@link AttentionGate}: {@code x * sigmoid(psi_bn(psi(relu(w_g_bn(w_g(gate)) + w_x_bn(w_x(x))))))}. */
    private String attentionGate(String path, String gate, String x) {
        module(path, AttentionGate.class);
        String a = batchNorm(path + ".w_g_bn", conv(path + ".w_g", gate));
        String b = batchNorm(path + ".w_x_bn", conv(path + ".w_x", x));
        String sum = g.node("Relu", path + ".relu", in(add(path + ".add", a, b)));
        String psi = g.node("Sigmoid", path + ".sigmoid", in(batchNorm(path + ".psi_bn", conv(path + ".psi", sum))));
        return g.node("Mul", path + ".mul", in(x, psi));
    }

    /** {@link DoubleConv}: {@code b(a(x))}. */
    private String doubleConv(String path, String x) {
        module(path, DoubleConv.class);
        return cbr(path + ".b", cbr(path + ".a", x));
    }

    /** {@link CBR}: {@code relu(bn(conv(x)))} (the ReLU is the BatchNorm's fused activation). */
    private String cbr(String path, String x) {
        module(path, CBR.class);
        return batchNorm(path + ".bn", conv(path + ".conv", x));
    }

    // ------------------------------------------------------------------ layers

    private String conv(String path, String x) {
        return conv(path, x, path);
    }

    /** {@link Conv2d} as ONNX Conv: OIHW weights as they are, symmetric padding, dilation, groups. */
    private String conv(String path, String x, String output) {
        Conv2d c = module(path, Conv2d.class);
        Conv2dSpec s = c.spec();
        List<String> inputs = in(x, weight(path + ".weight"));
        if (c.bias() != null) {
            inputs.add(weight(path + ".bias"));
        }
        return g.node(
                "Conv",
                path,
                output,
                inputs,
                ints("kernel_shape", s.kernelH(), s.kernelW()),
                ints("strides", s.strideH(), s.strideW()),
                ints("pads", s.padH(), s.padW(), s.padH(), s.padW()),
                ints("dilations", s.dilationH(), s.dilationW()),
                intAttr("group", s.groups()));
    }

    /** {@link BatchNorm2d} in inference form (running statistics), then its fused ReLU if any. */
    private String batchNorm(String path, String x) {
        BatchNorm2d bn = module(path, BatchNorm2d.class);
        String y = g.node(
                "BatchNormalization",
                path,
                in(
                        x,
                        weight(path + ".weight"),
                        weight(path + ".bias"),
                        weight(path + ".running_mean"),
                        weight(path + ".running_var")),
                floatAttr("epsilon", BatchNorm2d.EPS));
        used.add(path + ".num_batches_tracked");
        if (bn.activation() == Activation.RELU) {
            return g.node("Relu", path + ".relu", in(y));
        }
        if (bn.activation() != Activation.NONE) {
            throw new IllegalArgumentException("ONNX export: BatchNorm2d at " + path + " fuses " + bn.activation()
                    + ", which the exporter does not support");
        }
        return y;
    }

    /** {@link Linear} on {@code [N, in]}: Gemm with the {@code [out, in]} weight transposed, plus bias. */
    private String linear(String path, String x) {
        Linear l = module(path, Linear.class);
        List<String> inputs = in(x, weight(path + ".weight"));
        if (l.bias() != null) {
            inputs.add(weight(path + ".bias"));
        }
        return g.node("Gemm", path, inputs, intAttr("transB", 1));
    }

    /** Exact GELU {@code 0.5 x (1 + erf(x / sqrt 2))}, the pattern ONNX Runtime fuses into one kernel. */
    private String gelu(String name, String x) {
        String e = g.node(
                "Erf", name + ".erf", in(g.node("Div", name + ".div", in(x, g.constant("sqrt2", new float[] {SQRT2
                })))));
        String t = g.node(
                "Mul", name + ".mul", in(x, g.node("Add", name + ".add", in(e, g.constant("one", new float[] {1f})))));
        return g.node("Mul", name, in(t, g.constant("half", new float[] {0.5f})));
    }

    private String maxPool(String name, String x, int kernel, int stride, int pad) {
        return g.node(
                "MaxPool",
                name,
                in(x),
                ints("kernel_shape", kernel, kernel),
                ints("strides", stride, stride),
                ints("pads", pad, pad, pad, pad));
    }

    /** Nearest-neighbour 2x upsampling: {@code out[i] = in[floor(i / 2)]}. */
    private String upsample2x(String name, String x) {
        return g.node(
                "Resize",
                name,
                in(x, "", g.constant("scales_2x", new float[] {1f, 1f, 2f, 2f}, 4)),
                stringAttr("mode", "nearest"),
                stringAttr("coordinate_transformation_mode", "asymmetric"),
                stringAttr("nearest_mode", "floor"));
    }

    private String concat(String name, String a, String b) {
        return g.node("Concat", name, in(a, b), intAttr("axis", 1));
    }

    private String add(String name, String a, String b) {
        return g.node("Add", name, in(a, b));
    }

    // ------------------------------------------------------------------ model access

    private boolean has(String path) {
        return modules.containsKey(path);
    }

    private <M extends Module> M module(String path, Class<M> type) {
        Module m = modules.get(path);
        if (m == null || !type.isInstance(m)) {
            throw new IllegalArgumentException(
                    "ONNX export of " + model.architecture().get("arch") + ": expected "
                            + type.getSimpleName() + " at '" + path + "', found "
                            + (m == null ? "nothing" : m.getClass().getSimpleName()));
        }
        return type.cast(m);
    }

    /** The parameter or buffer {@code name} as an initializer of the same name (added once). */
    private String weight(String name) {
        Tensor t = state.get(name);
        if (t == null) {
            throw new IllegalArgumentException("ONNX export: the model has no tensor '" + name + "'");
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException("ONNX export: '" + name + "' is " + t.dtype() + ", expected F32");
        }
        if (used.add(name)) {
            g.initializer(name, t.shape(), t.toByteArray());
        }
        return name;
    }
}
