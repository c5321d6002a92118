package org.arunet.model;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.arunet.nn.ChannelAttention;

/**
 * Architecture of an {@link ArUNet} (immutable). Defaults are the paper's text
 * ({@code ../shared/docs/ARU-NET.md}); the authors' published code differs in places and each
 * difference is an option here.
 *
 * @param inChannels image channels (3; 1 for grey input)
 * @param classes output classes including background (2 = background, lesion)
 * @param width base channel count; stage widths are width x (1, 2, 4, 8, 16)
 * @param mixerKernel SpConvMixer depthwise kernel: 3 (paper text) or 7 (authors' code)
 * @param mixerDepth number of SpConvMixer hybrid-convolution sets (5; at most {@link #MAX_MIXER_DEPTH})
 * @param channelAttention channel attention in every skip fusion: PAPER, SE (authors' code), NONE
 * @param mcsaStages decoder stages carrying MCSA, numbered by their output level: 4 = after Up 1
 *     (1024 -> 512 at width 64), 3, 2, 1 = after Up 2..4. Default {3, 2, 1} as the authors' code.
 * @param spatialAttention spatial attention on the bottleneck (paper: on)
 * @param spatialKernel spatial-attention convolution kernel: 7 (paper) or 5 (authors' code)
 * @param mixer SpConvMixer on the bottleneck (paper: on; the authors' code comments it out)
 * @param residual residual shortcuts in the encoder stages (ablation switch)
 */
public record ArUNetConfig(
        int inChannels,
        int classes,
        int width,
        int mixerKernel,
        int mixerDepth,
        ChannelAttention.Kind channelAttention,
        Set<Integer> mcsaStages,
        boolean spatialAttention,
        int spatialKernel,
        boolean mixer,
        boolean residual) {

    /** Input height and width must be multiples of this (four 2x downsamplings). */
    public static final int SIZE_MULTIPLE = 16;

    /**
     * Largest accepted {@code mixerDepth} (the paper uses 5). Configurations come from untrusted
     * checkpoints too, and the depth is the only option that multiplies the number of modules: a
     * 23-byte change to a checkpoint's metadata (depth 68652) made loading it take 20 s.
     */
    public static final int MAX_MIXER_DEPTH = 256;

    public ArUNetConfig {
        mcsaStages = Set.copyOf(mcsaStages);
        check(inChannels >= 1, "inChannels must be >= 1, got " + inChannels);
        check(classes >= 2, "classes must be >= 2 (background and at least one lesion class), got " + classes);
        check(width >= 1, "width must be >= 1, got " + width);
        check(mixerKernel >= 1 && mixerKernel % 2 == 1, "mixerKernel must be odd and positive, got " + mixerKernel);
        check(
                mixerDepth >= 0 && mixerDepth <= MAX_MIXER_DEPTH,
                "mixerDepth must be within 0.." + MAX_MIXER_DEPTH + ", got " + mixerDepth);
        check(channelAttention != null, "channelAttention must be PAPER, SE or NONE");
        for (int s : mcsaStages) {
            check(s >= 1 && s <= 4, "mcsaStages must be within 1..4, got " + new TreeSet<>(mcsaStages));
        }
        check(spatialKernel >= 1 && spatialKernel % 2 == 1, "spatialKernel must be odd, got " + spatialKernel);
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException("ArUNetConfig: " + message);
        }
    }

    /** The paper's model: width 64, mixer kernel 3, paper channel attention, MCSA after Up 2..4. */
    public static ArUNetConfig paper() {
        return new ArUNetConfig(3, 2, 64, 3, 5, ChannelAttention.Kind.PAPER, Set.of(3, 2, 1), true, 7, true, true);
    }

    /**
     * What the authors' published code actually runs: no spatial attention, no SpConvMixer in the
     * forward pass, no channel attention, MCSA after Up 2..4 (mixer kernel 7 and spatial kernel 5 kept
     * for when those modules are switched back on).
     */
    public static ArUNetConfig authorsCode() {
        return new ArUNetConfig(3, 2, 64, 7, 5, ChannelAttention.Kind.NONE, Set.of(3, 2, 1), false, 5, false, true);
    }

    public ArUNetConfig withInChannels(int v) {
        return new ArUNetConfig(
                v,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withClasses(int v) {
        return new ArUNetConfig(
                inChannels,
                v,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withWidth(int v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                v,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withMixerKernel(int v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                v,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withMixerDepth(int v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                v,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withChannelAttention(ChannelAttention.Kind v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                v,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withMcsaStages(Integer... stages) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                Set.of(stages),
                spatialAttention,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withSpatialAttention(boolean v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                v,
                spatialKernel,
                mixer,
                residual);
    }

    public ArUNetConfig withSpatialKernel(int v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                v,
                mixer,
                residual);
    }

    public ArUNetConfig withMixer(boolean v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                v,
                residual);
    }

    public ArUNetConfig withResidual(boolean v) {
        return new ArUNetConfig(
                inChannels,
                classes,
                width,
                mixerKernel,
                mixerDepth,
                channelAttention,
                mcsaStages,
                spatialAttention,
                spatialKernel,
                mixer,
                v);
    }

    /** Stage widths: width x (1, 2, 4, 8, 16). */
    public int[] stageWidths() {
        return new int[] {width, 2 * width, 4 * width, 8 * width, 16 * width};
    }

    /** A flat string map of every field, for checkpoint metadata. */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("arch", "aru-net");
        m.put("in_channels", Integer.toString(inChannels));
        m.put("classes", Integer.toString(classes));
        m.put("width", Integer.toString(width));
        m.put("mixer_kernel", Integer.toString(mixerKernel));
        m.put("mixer_depth", Integer.toString(mixerDepth));
        m.put("channel_attention", channelAttention.name().toLowerCase());
        m.put(
                "mcsa_stages",
                Arrays.toString(new TreeSet<>(mcsaStages).descendingSet().toArray()));
        m.put("spatial_attention", Boolean.toString(spatialAttention));
        m.put("spatial_kernel", Integer.toString(spatialKernel));
        m.put("mixer", Boolean.toString(mixer));
        m.put("residual", Boolean.toString(residual));
        return m;
    }

    /** Inverse of {@link #toMap()}; missing keys take the paper's defaults. */
    public static ArUNetConfig fromMap(Map<String, String> m) {
        ArUNetConfig d = paper();
        String arch = m.getOrDefault("arch", "aru-net");
        check("aru-net".equals(arch), "not an ARU-Net configuration (arch=" + arch + ")");
        try {
            String stages = m.get("mcsa_stages");
            Set<Integer> st = d.mcsaStages();
            if (stages != null) {
                TreeSet<Integer> parsed = new TreeSet<>();
                for (String s : stages.replace("[", "").replace("]", "").split(",")) {
                    if (!s.isBlank()) {
                        parsed.add(Integer.parseInt(s.trim()));
                    }
                }
                st = parsed;
            }
            return new ArUNetConfig(
                    Integer.parseInt(m.getOrDefault("in_channels", "" + d.inChannels())),
                    Integer.parseInt(m.getOrDefault("classes", "" + d.classes())),
                    Integer.parseInt(m.getOrDefault("width", "" + d.width())),
                    Integer.parseInt(m.getOrDefault("mixer_kernel", "" + d.mixerKernel())),
                    Integer.parseInt(m.getOrDefault("mixer_depth", "" + d.mixerDepth())),
                    ChannelAttention.Kind.valueOf(
                            m.getOrDefault("channel_attention", "paper").toUpperCase()),
                    st,
                    Boolean.parseBoolean(m.getOrDefault("spatial_attention", "" + d.spatialAttention())),
                    Integer.parseInt(m.getOrDefault("spatial_kernel", "" + d.spatialKernel())),
                    Boolean.parseBoolean(m.getOrDefault("mixer", "" + d.mixer())),
                    Boolean.parseBoolean(m.getOrDefault("residual", "" + d.residual())));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid ARU-Net configuration " + m + ": " + e.getMessage(), e);
        }
    }
}
