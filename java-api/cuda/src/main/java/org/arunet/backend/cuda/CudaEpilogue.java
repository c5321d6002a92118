package org.arunet.backend.cuda;

import java.util.Arrays;
import org.arunet.backend.Checks;
import org.arunet.backend.ConvEpilogue;
import org.arunet.tensor.Tensor;

/**
 * A {@link ConvEpilogue} as the {@code k_epilogue} kernel takes it (cuda/convert.cu, Note [convolution
 * epilogue]): the steps as a program of four-bit codes, first step in the lowest bits, and up to four
 * operand slots in the order the steps read them. A batch norm step takes two slots, its coefficient
 * rows (computed on the device by {@code k_bn_eval_coef} just before the kernel) and beta; MUL and ADD
 * one slot each, their tensor. The step codes must equal convert.cu's {@code kEpi*} (a test reads them).
 * Also the fused convolution's launch sequence ({@link #run}) for {@link CudaBackend#convForwardFused}.
 */
final class CudaEpilogue {
    static final int AFFINE = 1;
    static final int RELU = 2;
    static final int GELU = 3;
    static final int SIGMOID = 4;
    static final int SUM = 5;
    static final int MUL = 6;
    static final int ADD = 7;
    /** Steps in an int (four bits each) and operand pointers (p0..p3) of one kernel launch. */
    static final int MAX_STEPS = 7;

    static final int MAX_OPERANDS = 4;

    /**
     * @param prog the step codes
     * @param norms per slot, the batch norm whose coefficient rows go there (null elsewhere)
     * @param tensors per slot, the tensor whose address goes there (null for coefficient slots and unused ones)
     * @param readsY whether a SUM step reads y's previous contents
     */
    record Program(int prog, ConvEpilogue.BatchNorm[] norms, Tensor[] tensors, boolean readsY) {
        /** The four kernel operands, given the device address of each slot's coefficient rows (0 elsewhere). */
        long[] operands(long[] coefficientRows) {
            long[] ops = new long[MAX_OPERANDS];
            for (int i = 0; i < MAX_OPERANDS; i++) {
                ops[i] = norms[i] != null ? coefficientRows[i] : tensors[i] != null ? tensors[i].address() : 0L;
            }
            return ops;
        }

        @Override
        public String toString() {
            return "Program[" + Integer.toHexString(prog) + ", norms " + Arrays.toString(norms) + ", tensors "
                    + Arrays.toString(tensors) + ", readsY " + readsY + "]";
        }
    }

    private CudaEpilogue() {}

    /** The program of an epilogue, or null when one kernel cannot take it (too many steps or operands). */
    static Program compile(ConvEpilogue epilogue) {
        int prog = 0;
        int steps = 0;
        int slots = 0;
        boolean readsY = false;
        ConvEpilogue.BatchNorm[] norms = new ConvEpilogue.BatchNorm[MAX_OPERANDS];
        Tensor[] tensors = new Tensor[MAX_OPERANDS];
        for (ConvEpilogue.Step st : epilogue.steps()) {
            int code;
            switch (st.kind()) {
                case BATCH_NORM -> {
                    if (slots + 2 > MAX_OPERANDS) {
                        return null;
                    }
                    norms[slots] = st.bn();
                    tensors[slots + 1] = st.bn().beta();
                    slots += 2;
                    code = AFFINE;
                }
                case ACTIVATION ->
                    code = switch (st.act()) {
                        case RELU -> RELU;
                        case GELU -> GELU;
                        case SIGMOID -> SIGMOID;
                        case NONE -> 0;
                    };
                case SUM -> {
                    readsY = true;
                    code = SUM;
                }
                case MUL, ADD -> {
                    if (slots == MAX_OPERANDS) {
                        return null;
                    }
                    tensors[slots++] = st.tensor();
                    code = st.kind() == ConvEpilogue.Kind.MUL ? MUL : ADD;
                }
                default -> throw new IllegalStateException("unknown epilogue step " + st.kind());
            }
            if (code == 0) {
                continue;
            }
            if (steps == MAX_STEPS) {
                return null;
            }
            prog |= code << (4 * steps++);
        }
        return new Program(prog, norms, tensors, readsY);
    }

    /** The epilogue's tensors against y's {@code cout} channels (batch norm vectors, MUL / ADD operands). */
    static void check(String name, ConvEpilogue epilogue, Tensor y, int cout) {
        for (ConvEpilogue.Step st : epilogue.steps()) {
            switch (st.kind()) {
                case BATCH_NORM -> {
                    ConvEpilogue.BatchNorm bn = st.bn();
                    Checks.shape(name, "batch norm gamma", bn.gamma(), CudaBackend.DEVICE, cout);
                    Checks.shape(name, "batch norm beta", bn.beta(), CudaBackend.DEVICE, cout);
                    Checks.shape(name, "batch norm running mean", bn.mean(), CudaBackend.DEVICE, cout);
                    Checks.shape(name, "batch norm running var", bn.var(), CudaBackend.DEVICE, cout);
                }
                case MUL, ADD -> {
                    Checks.like(name, st.kind() + " operand", st.tensor(), CudaBackend.DEVICE, "y", y);
                    Checks.noAlias(name, "y", y, st.kind() + " operand", st.tensor());
                }
                default -> {}
            }
        }
    }

    /**
     * The fused convolution: each batch norm step's coefficient rows computed on the device by
     * {@code k_bn_eval_coef} (as the unfused eval batch norm computes them, so fused and unfused results
     * agree bit for bit), then cuDNN and the epilogue kernel ({@link CudaConv2dOp#forwardFused}).
     */
    static void run(
            CudaContext ctx,
            CudaConv2dOp conv,
            CudaConv2dOp.Source source,
            Tensor x,
            Tensor x2,
            Tensor w,
            Tensor b,
            Tensor y,
            Program program) {
        int cout = y.dim(3);
        long[] coefs = new long[MAX_OPERANDS];
        try {
            for (int i = 0; i < coefs.length; i++) {
                ConvEpilogue.BatchNorm bn = program.norms()[i];
                if (bn != null) {
                    coefs[i] = ctx.temp(3L * cout * 4L, "batch norm coefficients");
                    ctx.kernels.bnEvalCoef(
                            coefs[i],
                            bn.gamma().address(),
                            bn.mean().address(),
                            bn.var().address(),
                            cout,
                            bn.eps());
                }
            }
            conv.forwardFused(source, x, x2, w, b, y, program.prog(), program.operands(coefs), program.readsY());
        } finally {
            for (long t : coefs) {
                if (t != 0) {
                    ctx.free(t);
                }
            }
        }
    }
}
