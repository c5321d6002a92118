package org.arunet.backend.cuda;

import org.arunet.tensor.Tensor;
import org.bytedeco.cuda.global.cublas;

/**
 * Linear layers on the GPU: cuBLAS SGEMM on row-major tensors through the transposes (a row-major
 * matrix is the column-major transpose), the bias add and the bias gradient's column sums (the GPU twin
 * of {@code cpu/linear.h}). Arguments are validated by the backend; every method runs inside its
 * {@code run}.
 */
final class CudaLinear {
    private final CudaContext ctx;
    private final Kernels k;
    private final Ptr.F fa = new Ptr.F();
    private final Ptr.F fb = new Ptr.F();
    private final Ptr.F fc = new Ptr.F();

    CudaLinear(CudaContext ctx) {
        this.ctx = ctx;
        this.k = ctx.kernels;
    }

    /** Column-major C (m x n) = op(A) op(B), alpha 1, beta 0. */
    private void sgemm(
            String what,
            int transA,
            int transB,
            int m,
            int n,
            int kk,
            long a,
            int lda,
            long b,
            int ldb,
            long c,
            int ldc) {
        CudaCheck.cublas(
                cublas.cublasSgemm_v2(
                        ctx.blas, transA, transB, m, n, kk, ctx.one, fa.at(a), lda, fb.at(b), ldb, ctx.zero, fc.at(c),
                        ldc),
                "cublasSgemm (" + what + ", m=" + m + " n=" + n + " k=" + kk + ")");
    }

    /** y = x w^T + b: x {@code [n, in]}, w {@code [out, in]}, b {@code [out]} or null. */
    void forward(Tensor x, Tensor w, Tensor b, Tensor y, int n, int in, int out) {
        // y^T (out x N) = w (out x in) x^T (in x N): w row-major is column-major w^T (in x out), transposed
        sgemm(
                "y = x w^T",
                cublas.CUBLAS_OP_T,
                cublas.CUBLAS_OP_N,
                out,
                n,
                in,
                w.address(),
                in,
                x.address(),
                in,
                y.address(),
                out);
        if (b != null) {
            k.biasAdd(y.address(), b.address(), n, out);
        }
        ctx.wrote(y);
    }

    /** dx = dy w (dx may be null), dw = dy^T x, db = the column sums of dy (db may be null). */
    void backward(Tensor dy, Tensor x, Tensor w, Tensor dx, Tensor dw, Tensor db, int n, int in, int out) {
        if (dx != null) {
            // dx^T (in x N) = w^T (in x out) dy^T (out x N)
            sgemm(
                    "dx = dy w",
                    cublas.CUBLAS_OP_N,
                    cublas.CUBLAS_OP_N,
                    in,
                    n,
                    out,
                    w.address(),
                    in,
                    dy.address(),
                    out,
                    dx.address(),
                    in);
        }
        // dw^T (in x out) = x^T (in x N) dy (N x out)
        sgemm(
                "dw = dy^T x",
                cublas.CUBLAS_OP_N,
                cublas.CUBLAS_OP_T,
                in,
                out,
                n,
                x.address(),
                in,
                dy.address(),
                out,
                dw.address(),
                in);
        if (db != null) {
            long partial = ctx.temp(Kernels.chunks(n) * out * 8L, "linear bias-gradient partial sums");
            k.colSumPartial(partial, dy.address(), 1, n, out);
            k.colSumFinal(db.address(), partial, out, n);
            ctx.free(partial);
        }
        ctx.wrote(dx, dw, db);
    }
}
