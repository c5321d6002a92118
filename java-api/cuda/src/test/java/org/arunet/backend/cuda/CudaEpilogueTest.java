package org.arunet.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.arunet.backend.Activation;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.DType;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The GPU's epilogue programs, without a GPU: how {@link CudaEpilogue} encodes the epilogues ARU-Net's
 * inference path uses (step codes, operand slots), what it refuses, and that its step codes are the
 * kernel's ({@code kEpi*} in native/src/main/cuda/convert.cu).
 */
class CudaEpilogueTest {
    private static Backend be;
    private static Tensor gamma;
    private static Tensor beta;
    private static Tensor mean;
    private static Tensor var;
    private static Tensor m;
    private static Tensor a;
    private static ConvEpilogue.BatchNorm bn;

    @BeforeAll
    static void open() {
        be = Backends.reference();
        gamma = be.allocate(DType.F32, Layout.PLAIN, 4);
        beta = be.allocate(DType.F32, Layout.PLAIN, 4);
        mean = be.allocate(DType.F32, Layout.PLAIN, 4);
        var = be.allocate(DType.F32, Layout.PLAIN, 4);
        m = be.allocate(DType.F32, Layout.NHWC, 1, 2, 2, 4);
        a = be.allocate(DType.F32, Layout.NHWC, 1, 2, 2, 4);
        bn = new ConvEpilogue.BatchNorm(gamma, beta, mean, var, 1e-5f);
    }

    @AfterAll
    static void close() {
        for (Tensor t : new Tensor[] {gamma, beta, mean, var, m, a}) {
            t.close();
        }
        be.close();
    }

    private static int prog(int... codes) {
        int p = 0;
        for (int i = 0; i < codes.length; i++) {
            p |= codes[i] << (4 * i);
        }
        return p;
    }

    @Test
    void aruNetsEpiloguesEncodeStepsAndOperandsInOrder() {
        CudaEpilogue.Program none = CudaEpilogue.compile(ConvEpilogue.none());
        assertEquals(0, none.prog());
        assertFalse(none.readsY());
        assertArrayEquals(new long[4], none.operands(new long[4]));

        // Residual's first convolution: batch norm, ReLU, the shortcut already in y
        CudaEpilogue.Program res = CudaEpilogue.compile(
                ConvEpilogue.builder().batchNorm(bn).act(Activation.RELU).sum().build());
        assertEquals(prog(CudaEpilogue.AFFINE, CudaEpilogue.RELU, CudaEpilogue.SUM), res.prog());
        assertTrue(res.readsY());
        assertSame(bn, res.norms()[0]);
        assertArrayEquals(new long[] {111L, beta.address(), 0L, 0L}, res.operands(new long[] {111L, 0, 0, 0}));

        // MCSA's output convolution: batch norm, the gate's product, the input added back
        CudaEpilogue.Program mcsa = CudaEpilogue.compile(
                ConvEpilogue.builder().batchNorm(bn).mul(m).add(a).build());
        assertEquals(prog(CudaEpilogue.AFFINE, CudaEpilogue.MUL, CudaEpilogue.ADD), mcsa.prog());
        assertFalse(mcsa.readsY());
        assertArrayEquals(
                new long[] {7L, beta.address(), m.address(), a.address()}, mcsa.operands(new long[] {7L, 0, 0, 0}));

        // the mixer's pointwise convolution: GELU before the batch norm, then the residual
        CudaEpilogue.Program mixer = CudaEpilogue.compile(
                ConvEpilogue.builder().act(Activation.GELU).batchNorm(bn).add(a).build());
        assertEquals(prog(CudaEpilogue.GELU, CudaEpilogue.AFFINE, CudaEpilogue.ADD), mixer.prog());
        assertArrayEquals(new long[] {9L, beta.address(), a.address(), 0L}, mixer.operands(new long[] {9L, 0, 0, 0}));

        // spatial attention: sigmoid; NONE adds no step
        CudaEpilogue.Program sa = CudaEpilogue.compile(ConvEpilogue.builder()
                .act(Activation.NONE)
                .act(Activation.SIGMOID)
                .build());
        assertEquals(prog(CudaEpilogue.SIGMOID), sa.prog());
    }

    @Test
    void whatOneKernelCannotTakeIsRefused() {
        // two batch norms and a product: five operands
        assertNull(CudaEpilogue.compile(
                ConvEpilogue.builder().batchNorm(bn).batchNorm(bn).mul(m).build()));
        // eight steps
        ConvEpilogue.Builder eight = ConvEpilogue.builder();
        for (int i = 0; i < 8; i++) {
            eight.act(Activation.RELU);
        }
        assertNull(CudaEpilogue.compile(eight.build()));
        // seven steps and four operands fit
        CudaEpilogue.Program full = CudaEpilogue.compile(ConvEpilogue.builder()
                .batchNorm(bn)
                .act(Activation.RELU)
                .mul(m)
                .add(a)
                .act(Activation.GELU)
                .sum()
                .act(Activation.SIGMOID)
                .build());
        assertEquals(
                prog(
                        CudaEpilogue.AFFINE,
                        CudaEpilogue.RELU,
                        CudaEpilogue.MUL,
                        CudaEpilogue.ADD,
                        CudaEpilogue.GELU,
                        CudaEpilogue.SUM,
                        CudaEpilogue.SIGMOID),
                full.prog());
    }

    @Test
    void stepCodesAreTheKernels() throws IOException {
        Path cu = Path.of("..", "..", "native", "src", "main", "cuda", "convert.cu");
        String src = Files.readString(cu);
        Matcher e = Pattern.compile("enum : int \\{([^}]*kEpiEnd[^}]*)\\}").matcher(src);
        assertTrue(e.find(), "no kEpi enum in " + cu.toAbsolutePath());
        Map<String, Integer> kernel = new LinkedHashMap<>();
        Matcher kv = Pattern.compile("(kEpi\\w+)\\s*=\\s*(\\d+)").matcher(e.group(1));
        while (kv.find()) {
            kernel.put(kv.group(1), Integer.parseInt(kv.group(2)));
        }
        Map<String, Integer> java = new LinkedHashMap<>();
        java.put("kEpiEnd", 0);
        java.put("kEpiAffine", CudaEpilogue.AFFINE);
        java.put("kEpiRelu", CudaEpilogue.RELU);
        java.put("kEpiGelu", CudaEpilogue.GELU);
        java.put("kEpiSigmoid", CudaEpilogue.SIGMOID);
        java.put("kEpiSum", CudaEpilogue.SUM);
        java.put("kEpiMul", CudaEpilogue.MUL);
        java.put("kEpiAdd", CudaEpilogue.ADD);
        assertEquals(java, kernel);
    }
}
