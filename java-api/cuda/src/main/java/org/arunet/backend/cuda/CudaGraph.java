package org.arunet.backend.cuda;

import java.util.List;
import org.arunet.backend.ArunetException;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.global.cudart;

/**
 * A fixed sequence of GPU work recorded once ({@link CudaBackend#capture}) and replayed with one launch:
 * the CPU cost of hundreds of kernel launches and library calls disappears, which is what batch-1
 * inference latency is made of.
 *
 * <p>The graph holds the device addresses it was recorded with: the tensors it read and wrote must stay
 * open and keep their shapes (a model's activation memory does, for one input shape), new inputs are
 * written into the same input tensor, and weights must not change while the graph is used (capture
 * again after an update). Temporary memory used inside the recorded ops stays reserved for the graph
 * until {@link #close()}.
 */
public final class CudaGraph implements AutoCloseable {
    private final CudaContext ctx;
    private final CUgraph_st graph;
    private final CUgraphExec_st exec;
    private final List<Long> held;
    private boolean closed;

    CudaGraph(CudaContext ctx, CUgraph_st graph, CUgraphExec_st exec, List<Long> held) {
        this.ctx = ctx;
        this.graph = graph;
        this.exec = exec;
        this.held = held;
    }

    /** Queues one replay on the backend's stream (asynchronous, like every op). */
    public void launch() {
        if (closed) {
            throw new IllegalStateException("CudaGraph used after close()");
        }
        ctx.enter();
        int s = cudart.cudaGraphLaunch(exec, ctx.stream);
        if (s != cudart.cudaSuccess) {
            throw new ArunetException("cudaGraphLaunch failed: " + CudaCheck.runtimeError(s));
        }
        ctx.afterOp("graph launch");
    }

    /** Frees the graph and gives its reserved memory back to the pool. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (ctx.isClosed()) {
            return;
        }
        ctx.enter();
        ctx.sync("CudaGraph.close");
        cudart.cudaGraphExecDestroy(exec);
        cudart.cudaGraphDestroy(graph);
        ctx.pool.releaseDeferred(held);
    }
}
