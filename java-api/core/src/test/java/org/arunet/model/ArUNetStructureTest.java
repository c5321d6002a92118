package org.arunet.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.nn.ChannelAttention;
import org.arunet.nn.Init;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Parameter counts, names, MACs and configuration validation (no numerics). */
class ArUNetStructureTest {

    @Test
    void defaultModelHasTheReferenceParameterCount() {
        try (Backend be = new ReferenceBackend();
                ArUNet k3 = ArUNet.builder().backend(be).build()) {
            assertEquals(39_475_748L, k3.parameterCount());
            assertEquals(297.96, k3.macs(512, 512) / 1e9, 0.005, "GMAC at 512x512");
            assertEquals(74.49, k3.macs(256, 256) / 1e9, 0.005, "GMAC at 256x256");
        }
        try (Backend be = new ReferenceBackend();
                ArUNet k7 = ArUNet.builder().backend(be).mixerKernel(7).build()) {
            assertEquals(39_680_548L, k7.parameterCount());
        }
    }

    /** Counts printed by the PyTorch reference (aru_net.py) for the same options. */
    @Test
    void ablationAndVariantParameterCountsMatchTheReference() {
        try (Backend be = new ReferenceBackend()) {
            ArUNetConfig p = ArUNetConfig.paper();
            assertCount(be, p.withResidual(false), 38_779_428L);
            assertCount(
                    be,
                    p.withSpatialAttention(false)
                            .withChannelAttention(ChannelAttention.Kind.NONE)
                            .withMcsaStages(),
                    37_402_818L);
            assertCount(be, p.withMixer(false), 34_156_068L);
            assertCount(be, p.withChannelAttention(ChannelAttention.Kind.SE), 39_388_708L);
            assertCount(be, p.withMcsaStages(4, 3, 2, 1), 44_986_916L);
            assertCount(be, ArUNetConfig.authorsCode(), 33_894_850L);
        }
    }

    private static void assertCount(Backend be, ArUNetConfig c, long expected) {
        try (ArUNet n = new ArUNet(be, c, Init.Scheme.PYTORCH, 0)) {
            assertEquals(expected, n.parameterCount(), c.toMap().toString());
        }
    }

    @Test
    void stateDictNamesFollowTheReference() {
        try (Backend be = new ReferenceBackend();
                ArUNet net = ArUNet.builder().backend(be).width(8).build()) {
            Map<String, Tensor> sd = net.stateDict();
            for (String k : new String[] {
                "stem.a.conv.weight",
                "stem.a.bn.num_batches_tracked",
                "enc2.block.shortcut.weight",
                "enc5.block.b.bn.running_var",
                "sa.conv.weight",
                "mixer.0.dw.weight",
                "mixer.4.bn2.bias",
                "dec4.up.conv.bias",
                "dec3.mcsa.g_bn.running_var",
                "dec1.ca.fc_max.weight",
                "dec1.ca.fc_out.weight",
                "dec1.fuse.bn.weight",
                "head.bias"
            }) {
                assertTrue(sd.containsKey(k), "missing " + k);
            }
            assertTrue(!sd.containsKey("dec4.mcsa.p.weight"), "MCSA after Up 1 is off by default");
            assertEquals(DType.I64, sd.get("stem.a.bn.num_batches_tracked").dtype());
            assertEquals(0, sd.get("stem.a.bn.num_batches_tracked").rank());
            assertEquals(Layout.OIHW, sd.get("stem.a.conv.weight").layout());
            assertEquals(289, sd.size(), "the reference's tiny model has 289 state entries");
        }
    }

    @Test
    void ablationsChangeTheStructure() {
        try (Backend be = new ReferenceBackend()) {
            long full;
            try (ArUNet n = ArUNet.builder().backend(be).width(8).build()) {
                full = n.parameterCount();
            }
            try (ArUNet n =
                    ArUNet.builder().backend(be).width(8).residual(false).build()) {
                assertTrue(n.parameterCount() < full);
                assertTrue(!n.stateDict().containsKey("enc2.block.shortcut.weight"));
            }
            try (ArUNet n = ArUNet.builder()
                    .backend(be)
                    .width(8)
                    .mixer(false)
                    .spatialAttention(false)
                    .channelAttention(ChannelAttention.Kind.NONE)
                    .mcsaStages()
                    .build()) {
                assertTrue(n.stateDict().keySet().stream()
                        .noneMatch(k -> k.startsWith("mixer")
                                || k.startsWith("sa.")
                                || k.contains(".ca.")
                                || k.contains(".mcsa.")));
            }
            try (ArUNet n = ArUNet.builder()
                    .backend(be)
                    .width(32)
                    .channelAttention(ChannelAttention.Kind.SE)
                    .build()) {
                assertEquals(List.of(4, 64), shape(n, "dec1.ca.fc1.weight"));
            }
            try (ArUNet n = ArUNet.builder()
                    .backend(be)
                    .width(8)
                    .mcsaStages(4, 3, 2, 1)
                    .inChannels(1)
                    .classes(3)
                    .build()) {
                assertTrue(n.stateDict().containsKey("dec4.mcsa.p.weight"));
                assertEquals(List.of(8, 1, 3, 3), shape(n, "stem.a.conv.weight"));
                assertEquals(List.of(3, 8, 1, 1), shape(n, "head.weight"));
            }
        }
    }

    private static java.util.List<Integer> shape(ArUNet n, String k) {
        return java.util.Arrays.stream(n.stateDict().get(k).shape()).boxed().toList();
    }

    @Test
    void invalidConfigurationsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> ArUNetConfig.paper().withWidth(0));
        assertThrows(IllegalArgumentException.class, () -> ArUNetConfig.paper().withMixerKernel(4));
        assertThrows(IllegalArgumentException.class, () -> ArUNetConfig.paper().withClasses(1));
        assertThrows(IllegalArgumentException.class, () -> ArUNetConfig.paper().withMcsaStages(5));
        assertThrows(IllegalArgumentException.class, () -> ArUNet.builder().build(), "no backend");
    }

    @Test
    void configRoundTripsThroughMetadata() {
        ArUNetConfig c = ArUNetConfig.paper()
                .withWidth(16)
                .withMixerKernel(7)
                .withMcsaStages(4, 1)
                .withChannelAttention(ChannelAttention.Kind.SE)
                .withResidual(false);
        assertEquals(c, ArUNetConfig.fromMap(c.toMap()));
        assertEquals(
                ArUNetConfig.authorsCode(),
                ArUNetConfig.fromMap(ArUNetConfig.authorsCode().toMap()));
    }

    @Test
    void initialisationIsDeterministic() {
        try (Backend be = new ReferenceBackend();
                ArUNet a = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 7);
                ArUNet b = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 7);
                ArUNet c = new ArUNet(be, ArUNetConfig.paper().withWidth(4), Init.Scheme.AUTHORS, 8)) {
            float[] wa = a.stateDict().get("dec2.fuse.conv.weight").toFloatArray();
            assertTrue(java.util.Arrays.equals(
                    wa, b.stateDict().get("dec2.fuse.conv.weight").toFloatArray()));
            assertTrue(!java.util.Arrays.equals(
                    wa, c.stateDict().get("dec2.fuse.conv.weight").toFloatArray()));
            double sum = 0;
            double sq = 0;
            for (float v : wa) {
                sum += v;
                sq += v * v;
            }
            double std = Math.sqrt(sq / wa.length - (sum / wa.length) * (sum / wa.length));
            assertEquals(0.02, std, 0.004, "authors' init: N(0, 0.02)");
        }
    }
}
