package org.arunet.model;

import static org.arunet.testing.TensorAssert.assertClose;
import static org.arunet.testing.TensorAssert.assertCloseNorm;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testing.Fixture;
import org.arunet.testing.TestBackends;
import org.arunet.train.Adam;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole tiny ARU-Net (width 8, mixer kernel 3, batch 2x3x32x32) against the PyTorch reference
 * ({@code model_tiny.safetensors}): train-mode logits, CE + Dice loss, every parameter gradient,
 * BatchNorm running statistics after the forward pass, eval-mode logits, and the parameters after
 * one Adam step. Outputs within 1e-4 relative element-wise, gradients within 1e-3 relative in norm.
 */
class TinyModelFixtureTest {

    static Stream<Named<Supplier<Backend>>> backends() {
        return TestBackends.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void reproducesReference(Supplier<Backend> backend) {
        try (Backend be = backend.get();
                Fixture f = Fixture.load("model_tiny.safetensors");
                ArUNet net = new ArUNet(be, ArUNetConfig.paper().withWidth(8), Init.Scheme.PYTORCH, 1);
                Tensor x = f.nhwcTensor(be, "input");
                Tensor target = f.targetTensor(be, "target");
                Tensor dLogits = be.allocate(DType.F32, Layout.NHWC, 2, 32, 32, 2)) {
            f.loadInto(net, "param.");
            assertEquals(
                    f.reader().entries().keySet().stream()
                            .filter(k -> k.startsWith("param."))
                            .count(),
                    net.stateDict().size(),
                    "state_dict size");

            net.train(true);
            Tensor logits = net.forward(x);
            assertClose("logits", Fixture.toNchw(logits), f.floats("logits"), 1e-5, 1e-4);

            double loss = be.crossEntropyDiceLoss(logits, target, dLogits, 1f, 1f, 1e-5f);
            assertClose("loss", new float[] {(float) loss}, f.floats("loss"), 0, 1e-5);

            net.backward(dLogits);
            int grads = 0;
            double floor = Fixture.GRAD_FLOOR * f.largestNorm("grad.");
            for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                assertCloseNorm(
                        "grad." + e.getKey(),
                        e.getValue().grad().toFloatArray(),
                        f.floats("grad." + e.getKey()),
                        1e-3,
                        floor);
                grads++;
            }
            assertEquals(
                    f.reader().entries().keySet().stream()
                            .filter(k -> k.startsWith("grad."))
                            .count(),
                    grads);

            for (Map.Entry<String, Tensor> e : net.stateDict().entrySet()) {
                String k = e.getKey();
                if (k.endsWith("running_mean") || k.endsWith("running_var")) {
                    assertClose("after." + k, e.getValue().toFloatArray(), f.floats("after." + k), 1e-6, 1e-4);
                } else if (k.endsWith("num_batches_tracked")) {
                    assertEquals(1L, e.getValue().toLongArray()[0], k);
                }
            }

            net.eval();
            assertClose("eval_logits", Fixture.toNchw(net.forward(x)), f.floats("eval_logits"), 1e-5, 1e-4);

            // Adam's first step moves every weight by about lr * sign(g); where a gradient is at rounding-noise
            // level (a bias feeding a BatchNorm) its sign is noise too. The gradients were checked above, so
            // the step is checked from the reference's gradients: it must then match PyTorch's to float
            // precision.
            for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                e.getValue().grad().copyFrom(f.floats("grad." + e.getKey()));
            }
            try (Adam adam = Adam.of(be, net.namedParameters(), 1e-4f)) {
                adam.step();
                for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                    assertClose(
                            "adam1." + e.getKey(),
                            e.getValue().value().toFloatArray(),
                            f.floats("adam1." + e.getKey()),
                            1e-7,
                            1e-5);
                }
            }
        }
    }
}
