package org.arunet.nn;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.arunet.testing.TensorAssert.assertCloseNorm;

import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.tensor.Tensor;
import org.arunet.testing.Fixture;
import org.arunet.testing.TestBackends;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every ARU-Net block against the PyTorch reference's fixtures (train mode): output, input gradient
 * and every parameter gradient, on each backend. Outputs within 1e-4 relative element-wise (plus a
 * small absolute floor for values near zero), gradients within 1e-3 relative in norm.
 */
class BlockFixtureTest {

    /** A block under test, seen through one forward/backward interface. */
    private interface Block extends AutoCloseable {
        Module module();

        Tensor forward(Tensor x);

        Tensor backward(Tensor dy);

        @Override
        default void close() {
            module().close();
        }
    }

    private static Block of(Module m, Function<Tensor, Tensor> f, Function<Tensor, Tensor> b) {
        return new Block() {
            public Module module() {
                return m;
            }

            public Tensor forward(Tensor x) {
                return f.apply(x);
            }

            public Tensor backward(Tensor dy) {
                return b.apply(dy);
            }
        };
    }

    private static Block residual(Backend be) {
        Residual r = new Residual(be, 8, 16, true);
        return of(r, r::forward, r::backward);
    }

    private static Block spatial(Backend be) {
        SpatialAttention s = new SpatialAttention(be, 7);
        return of(s, s::forward, s::backward);
    }

    private static Block mixer(Backend be) {
        MixerBlock m = new MixerBlock(be, 16, 3);
        return of(m, m::forward, m::backward);
    }

    private static Block mcsa(Backend be) {
        MCSA m = new MCSA(be, 8);
        return of(m, m::forward, m::backward);
    }

    private static Block channel(Backend be) {
        ChannelAttention c = new ChannelAttention(be, 32, 16, ChannelAttention.Kind.PAPER);
        return of(c, c::forward, c::backward);
    }

    static Stream<Arguments> cases() {
        Map<String, Function<Backend, Block>> blocks = Map.of(
                "module_residual.safetensors", BlockFixtureTest::residual,
                "module_spatial_attention.safetensors", BlockFixtureTest::spatial,
                "module_mixer_block.safetensors", BlockFixtureTest::mixer,
                "module_mcsa.safetensors", BlockFixtureTest::mcsa,
                "module_channel_attention.safetensors", BlockFixtureTest::channel);
        return TestBackends.all().flatMap(be -> blocks.entrySet().stream()
                .sorted(Map.Entry.comparingByKey())
                .map(e -> Arguments.of(be, e.getKey(), e.getValue())));
    }

    @ParameterizedTest(name = "{1} on {0}")
    @MethodSource("cases")
    void matchesReference(Supplier<Backend> backend, String file, Function<Backend, Block> make) throws Exception {
        try (Backend be = backend.get();
                Fixture f = Fixture.load(file);
                Block block = make.apply(be);
                Tensor x = f.nhwcTensor(be, "input");
                Tensor dout = f.nhwcTensor(be, "dout")) {
            f.loadInto(block.module(), "param.");
            block.module().train(true);
            Tensor y = block.forward(x);
            assertClose(file + " output", Fixture.toNchw(y), f.floats("output"), 1e-5, 1e-4);
            Tensor dx = block.backward(dout);
            assertCloseNorm(file + " dinput", Fixture.toNchw(dx), f.floats("dinput"), 1e-3);
            int checked = 0;
            double floor = Fixture.GRAD_FLOOR * f.largestNorm("grad.");
            for (Map.Entry<String, Parameter> e :
                    block.module().namedParameters().entrySet()) {
                assertCloseNorm(
                        file + " grad." + e.getKey(),
                        e.getValue().grad().toFloatArray(),
                        f.floats("grad." + e.getKey()),
                        1e-3,
                        floor);
                checked++;
            }
            org.junit.jupiter.api.Assertions.assertTrue(checked > 0, "no parameters checked");
        }
    }
}
