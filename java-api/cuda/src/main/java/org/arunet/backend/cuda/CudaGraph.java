package org.arunet.backend.cuda;

import java.util.List;
import org.arunet.backend.ArunetException;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.cuda.global.cudart;

/**
 * A fixed sequence of GPU work recorded once ({@link CudaBackend#capture}, {@link #capture}) and replayed
 * with one launch:
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

    /**
     * Records the GPU work that {@code work} queues on {@code ctx}'s stream into a graph instead of running
     * it (the context is current: {@link CudaBackend#capture} entered it).
     */
    static CudaGraph capture(CudaContext ctx, Runnable work) {
        if (ctx.syncEachOp) {
            throw new IllegalStateException(
                    "capture: not possible with -Darunet.cuda.sync=true (it waits after every op)");
        }
        ctx.sync("capture");
        // relaxed mode: the pool may call cudaMalloc while recording (blocks are then held by the graph)
        // half-precision copies made earlier must not be reused by the graph: it must record the casts
        ctx.clearHalfCache();
        ctx.pool.deferFrees(true);
        RuntimeException failure = null;
        CudaCheck.runtime(
                cudart.cudaStreamBeginCapture(ctx.stream, cudart.cudaStreamCaptureModeRelaxed),
                "cudaStreamBeginCapture");
        try {
            work.run();
        } catch (RuntimeException e) {
            failure = e;
        }
        CUgraph_st graph = new CUgraph_st();
        int end = cudart.cudaStreamEndCapture(ctx.stream, graph);
        // copies made during the capture belong to the graph: drop them from the cache (their memory is held)
        ctx.clearHalfCache();
        List<Long> held = ctx.pool.deferFrees(false);
        if (failure != null || end != cudart.cudaSuccess) {
            if (!graph.isNull()) {
                cudart.cudaGraphDestroy(graph);
            }
            cudart.cudaGetLastError();
            ctx.pool.releaseDeferred(held);
            String why = end != cudart.cudaSuccess ? "cudaStreamEndCapture: " + CudaCheck.runtimeError(end) : "";
            throw new ArunetException(
                    "capture failed" + (failure != null ? ": " + failure.getMessage() : "")
                            + (why.isEmpty() ? "" : " (" + why + ")"),
                    failure);
        }
        CUgraphExec_st exec = new CUgraphExec_st();
        int inst = cudart.cudaGraphInstantiate(exec, graph, 0L);
        if (inst != cudart.cudaSuccess) {
            cudart.cudaGraphDestroy(graph);
            ctx.pool.releaseDeferred(held);
            throw new ArunetException("cudaGraphInstantiate failed: " + CudaCheck.runtimeError(inst));
        }
        return new CudaGraph(ctx, graph, exec, held);
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
