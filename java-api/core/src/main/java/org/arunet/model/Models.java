package org.arunet.model;

import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.nn.Init;

/** Builds a model from its {@link SegmentationModel#architecture()} description. */
public final class Models {
    private Models() {}

    /**
     * @throws IllegalArgumentException for an unknown {@code arch} or invalid options
     */
    public static SegmentationModel create(
            Map<String, String> architecture, Backend backend, Init.Scheme init, long seed) {
        String arch = architecture.getOrDefault("arch", "");
        switch (arch) {
            case "aru-net":
                return new ArUNet(backend, ArUNetConfig.fromMap(architecture), init, seed);
            case "unet":
            case "attention-unet":
                return UNet.fromMap(architecture, backend, init, seed);
            default:
                throw new IllegalArgumentException(
                        "unknown architecture '" + arch + "' (known: aru-net, unet, attention-unet)");
        }
    }
}
