package org.arunet.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.Map;
import org.arunet.onnx.OnnxExporter;

/**
 * One ONNX Runtime session on an exported model with a fixed input, for {@code bench --vs onnxruntime}.
 * CPU execution provider, {@code threads} intra-op threads, one inter-op thread, all graph
 * optimizations, sequential execution, no spinning of idle intra-op threads.
 *
 * <p>This is the only class of the tool that touches ONNX Runtime, which is not part of arunet.jar:
 * {@link OnnxRuntimeBench#available} must be checked before this class is used.
 */
final class OrtRunner implements AutoCloseable {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final OnnxTensor input;
    private final Map<String, OnnxTensor> feed;

    OrtRunner(Path model, int threads, float[] nchw, long[] shape) throws OrtException {
        env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            o.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            // Idle workers sleep instead of spinning: in the alternating comparison a spinning pool keeps
            // cores busy while our pass runs (measured on 2 cores: ours up to 2x slower, ONNX Runtime not faster).
            o.addConfigEntry("session.intra_op.allow_spinning", "0");
            session = env.createSession(model.toString(), o);
        }
        FloatBuffer b = ByteBuffer.allocateDirect(4 * nchw.length)
                .order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        b.put(nchw).rewind();
        OnnxTensor t;
        try {
            t = OnnxTensor.createTensor(env, b, shape);
        } catch (OrtException | RuntimeException e) {
            session.close();
            throw e;
        }
        input = t;
        feed = Map.of(OnnxExporter.INPUT, input);
    }

    String version() {
        return env.getVersion();
    }

    /** One inference (the timed unit); the output is released at once. */
    void run() throws OrtException {
        try (OrtSession.Result r = session.run(feed)) {
            if (r.size() == 0) {
                throw new IllegalStateException("ONNX Runtime returned no output");
            }
        }
    }

    /** The logits of one inference, NCHW. */
    float[] logits() throws OrtException {
        try (OrtSession.Result r = session.run(feed)) {
            FloatBuffer y = ((OnnxTensor) r.get(OnnxExporter.LOGITS).orElseThrow()).getFloatBuffer();
            float[] a = new float[y.remaining()];
            y.get(a);
            return a;
        }
    }

    @Override
    public void close() throws OrtException {
        input.close();
        session.close();
    }
}
