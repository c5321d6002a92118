package org.arunet.model;

import java.util.Map;
import org.arunet.backend.Conv2dSpec;
import org.arunet.nn.Conv2d;
import org.arunet.nn.Linear;
import org.arunet.nn.Module;

/**
 * Counts multiply-accumulates of convolutions and linear layers for one image, as the reference's
 * {@code count_macs}: each top-level part of ARU-Net works at a fixed level of the pyramid (level l
 * has size H / 2^l), and every convolution in ARU-Net keeps its input size ("same" padding).
 */
final class Macs {
    private static final Map<String, Integer> LEVEL = Map.ofEntries(
            Map.entry("stem", 0),
            Map.entry("enc2", 1),
            Map.entry("enc3", 2),
            Map.entry("enc4", 3),
            Map.entry("enc5", 4),
            Map.entry("sa", 4),
            Map.entry("mixer", 4),
            Map.entry("dec4", 3),
            Map.entry("dec3", 2),
            Map.entry("dec2", 1),
            Map.entry("dec1", 0),
            Map.entry("head", 0));

    private Macs() {}

    static long of(ArUNet net, int h, int w) {
        long total = 0;
        for (Module m : net.modules()) {
            String top = m.path().split("\\.")[0];
            Integer level = LEVEL.get(top);
            if (m instanceof Conv2d c) {
                Conv2dSpec s = c.spec();
                int lh = h >> level;
                int lw = w >> level;
                total += s.macs(s.outH(lh), s.outW(lw));
            } else if (m instanceof Linear l) {
                total += (long) l.in() * l.out();
            }
        }
        return total;
    }
}
