package org.arunet.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.model.SegmentationModel;
import org.arunet.tensor.Tensor;

/** What the trainer tests share: a short configuration and bit-exact comparisons of model state. */
final class TrainTestSupport {
    private TrainTestSupport() {}

    /** Batch 2, lr 2e-3, one warm-up epoch, no early stopping. */
    static TrainerConfig config(int epochs) {
        return TrainerConfig.paper()
                .withEpochs(epochs)
                .withBatchSize(2)
                .withLearningRate(2e-3f)
                .withWarmupEpochs(1)
                .withPatience(0);
    }

    /** Every parameter and buffer, copied to host arrays. */
    static Map<String, byte[]> snapshot(SegmentationModel m) {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            out.put(e.getKey(), e.getValue().toByteArray());
        }
        return out;
    }

    static void assertSameState(Map<String, byte[]> a, Map<String, byte[]> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertArrayEquals(a.get(k), b.get(k), "state " + k + " differs");
        }
    }
}
