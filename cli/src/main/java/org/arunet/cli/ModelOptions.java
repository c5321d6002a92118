package org.arunet.cli;

import java.util.List;
import org.arunet.backend.Backend;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.model.SegmentationModel;
import org.arunet.model.UNet;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Init;
import picocli.CommandLine.Option;

/** Architecture options ({@code train}, {@code bench}): ARU-Net with every variant, or a baseline. */
final class ModelOptions {
    enum Arch {
        ARU_NET,
        UNET,
        ATTENTION_UNET
    }

    enum Preset {
        PAPER,
        AUTHORS_CODE
    }

    @Option(
            names = "--arch",
            defaultValue = "aru-net",
            converter = EnumConverters.ArchConverter.class,
            description = "Architecture: aru-net, unet (Ronneberger 2015) or attention-unet (Oktay 2018).")
    Arch arch = Arch.ARU_NET;

    @Option(
            names = "--preset",
            defaultValue = "paper",
            converter = EnumConverters.PresetConverter.class,
            description = "ARU-Net starting point: paper (the paper's text) or authors-code (what the authors'"
                    + " published code runs: no spatial attention, no SpConvMixer, no channel attention); the"
                    + " options below change it.")
    Preset preset = Preset.PAPER;

    @Option(
            names = "--width",
            defaultValue = "64",
            description = "Base channels; stage widths are 1, 2, 4, 8, 16" + " times this (64 in the paper).")
    int width = 64;

    @Option(
            names = "--mixer-kernel",
            description =
                    "SpConvMixer depthwise kernel: 3 (paper text) or 7 (authors'" + " code). Default: from --preset.")
    Integer mixerKernel;

    @Option(
            names = "--mixer-depth",
            defaultValue = "5",
            description = "Number of SpConvMixer hybrid-convolution" + " sets.")
    int mixerDepth = 5;

    @Option(
            names = "--channel-attention",
            converter = EnumConverters.CaConverter.class,
            description = "Channel attention in the skip fusions: paper, se (authors' code) or none. Default: from"
                    + " --preset.")
    ChannelAttention.Kind channelAttention;

    @Option(
            names = "--mcsa-stages",
            paramLabel = "LIST",
            description = "Decoder stages with MCSA, comma-separated"
                    + " (4 = after Up block 1, ..., 1 = after Up block 4), or none. Default: 3,2,1.")
    String mcsaStages;

    @Option(
            names = "--spatial-attention",
            negatable = true,
            description = "Spatial attention on the bottleneck." + " Default: from --preset.")
    Boolean spatialAttention;

    @Option(names = "--spatial-kernel", description = "Spatial-attention kernel: 7 (paper) or 5 (authors' code).")
    Integer spatialKernel;

    @Option(
            names = "--mixer",
            negatable = true,
            description = "SpConvMixer on the bottleneck. Default: from" + " --preset.")
    Boolean mixer;

    @Option(
            names = "--residual",
            negatable = true,
            defaultValue = "true",
            fallbackValue = "true",
            description = "Residual shortcuts in the encoder (--no-residual: the paper's ablation).")
    boolean residual = true;

    @Option(
            names = "--init",
            converter = EnumConverters.InitConverter.class,
            description = "Initialisation: pytorch (PyTorch's defaults) or authors (conv N(0, 0.02), BN gamma"
                    + " N(1, 0.02)). Default: from --recipe (standard: pytorch; paper: authors).")
    Init.Scheme init;

    ArUNetConfig aruConfig(int inChannels, int classes) {
        ArUNetConfig c = preset == Preset.PAPER ? ArUNetConfig.paper() : ArUNetConfig.authorsCode();
        c = c.withInChannels(inChannels)
                .withClasses(classes)
                .withWidth(width)
                .withMixerDepth(mixerDepth)
                .withResidual(residual);
        if (mixerKernel != null) {
            c = c.withMixerKernel(mixerKernel);
        }
        if (channelAttention != null) {
            c = c.withChannelAttention(channelAttention);
        }
        if (mcsaStages != null) {
            c = c.withMcsaStages(parseStages(mcsaStages));
        }
        if (spatialAttention != null) {
            c = c.withSpatialAttention(spatialAttention);
        }
        if (spatialKernel != null) {
            c = c.withSpatialKernel(spatialKernel);
        }
        if (mixer != null) {
            c = c.withMixer(mixer);
        }
        return c;
    }

    static Integer[] parseStages(String s) {
        String t = s.trim();
        if (t.isEmpty() || t.equalsIgnoreCase("none")) {
            return new Integer[0];
        }
        List<Integer> out = new java.util.ArrayList<>();
        for (String part : t.split(",")) {
            try {
                out.add(Integer.parseInt(part.trim()));
            } catch (NumberFormatException e) {
                throw new Errors.UsageException("--mcsa-stages: '" + part.trim() + "' is not a stage number (1-4)");
            }
        }
        return out.toArray(new Integer[0]);
    }

    SegmentationModel build(Backend backend, int inChannels, int classes, long seed) {
        Init.Scheme init = this.init != null ? this.init : Init.Scheme.PYTORCH;
        switch (arch) {
            case UNET:
                return new UNet(backend, inChannels, classes, width, false, init, seed);
            case ATTENTION_UNET:
                return new UNet(backend, inChannels, classes, width, true, init, seed);
            default:
                return new ArUNet(backend, aruConfig(inChannels, classes), init, seed);
        }
    }
}
