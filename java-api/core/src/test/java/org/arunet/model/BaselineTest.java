package org.arunet.model;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.arunet.testing.TensorAssert.assertCloseNorm;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.Fixture;
import org.arunet.testing.TestBackends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * U-Net and Attention U-Net against an independent PyTorch definition
 * ({@code src/test/python/make_baseline_fixtures.py}): parameter counts at width 64, and the tiny
 * models' logits, loss and every gradient.
 */
class BaselineTest {

    @Test
    void parameterCountsMatchThePyTorchDefinition() {
        try (Backend be = new ReferenceBackend()) {
            try (UNet u = new UNet(be, 3, 2, 64, false, Init.Scheme.AUTHORS, 0)) {
                assertEquals(34_521_218L, u.parameterCount());
                assertEquals("unet", u.architecture().get("arch"));
            }
            try (UNet u = new UNet(be, 3, 2, 64, true, Init.Scheme.AUTHORS, 0)) {
                assertEquals(34_872_750L, u.parameterCount());
            }
            try (SegmentationModel m =
                    Models.create(Map.of("arch", "attention-unet", "width", "8"), be, Init.Scheme.PYTORCH, 0)) {
                assertEquals(
                        Map.of("arch", "attention-unet", "in_channels", "3", "classes", "2", "width", "8"),
                        m.architecture());
            }
        }
    }

    static Stream<Arguments> cases() {
        return TestBackends.all().flatMap(b -> Stream.of(Arguments.of(b, false), Arguments.of(b, true)));
    }

    @ParameterizedTest(name = "attention={1} on {0}")
    @MethodSource("cases")
    void tinyModelMatchesPyTorch(Supplier<Backend> backend, boolean attention) {
        String file = attention ? "baseline_attention-unet_tiny.safetensors" : "baseline_unet_tiny.safetensors";
        try (Backend be = backend.get();
                Fixture f = Fixture.load(file);
                UNet net = new UNet(be, 3, 2, 4, attention, Init.Scheme.PYTORCH, 0);
                Tensor x = f.nhwcTensor(be, "input");
                Tensor target = f.targetTensor(be, "target");
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 2)) {
            f.loadInto(net, "param.");
            net.train(true);
            Tensor logits = net.forward(x);
            // The fixture is computed in float64; oneDNN accumulates in float32 in another order, and the
            // attention gate's one-channel BatchNorm amplifies that (up to 2e-5 absolute on logits of 0.2).
            assertClose(file + " logits", Fixture.toNchw(logits), f.floats("logits"), 5e-5, 1e-4);
            double loss = be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
            assertClose(file + " loss", new float[] {(float) loss}, f.floats("loss"), 0, 1e-5);
            net.backward(dLogits);
            double floor = Fixture.GRAD_FLOOR * f.largestNorm("grad.");
            for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                assertCloseNorm(
                        file + " grad." + e.getKey(),
                        e.getValue().grad().toFloatArray(),
                        f.floats("grad." + e.getKey()),
                        1e-3,
                        floor);
            }
        }
    }
}
