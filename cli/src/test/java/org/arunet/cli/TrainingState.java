package org.arunet.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import org.arunet.io.SafeTensors;
import org.arunet.model.SegmentationModel;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.train.Checkpoint;

/**
 * What a checkpoint says about a training run, minus provenance that differs between runs by nature
 * (when it was written, how long epochs took): every tensor's bytes, the trainer state in the metadata
 * and the per-epoch losses and scores.
 */
record TrainingState(Map<String, byte[]> tensors, Map<String, String> state, List<Map<String, Object>> history) {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Metadata that must match exactly. */
    private static final List<String> STATE_KEYS = List.of(
            "format",
            "format_version",
            "architecture",
            "epoch",
            "optimizer_steps",
            "best_val_loss",
            "best_epoch",
            "epochs_without_improvement",
            "trainer",
            "classes",
            "preprocessing");
    /** History fields that measure time, not training. */
    private static final List<String> TIMING = List.of("seconds", "imagesPerSecond", "dataWaitSeconds", "etaSeconds");

    static TrainingState of(Path checkpoint) throws IOException {
        Map<String, byte[]> tensors = new TreeMap<>();
        Map<String, String> state = new TreeMap<>();
        List<Map<String, Object>> history;
        try (SafeTensors.Reader r = Checkpoint.open(checkpoint)) {
            for (String name : r.entries().keySet()) {
                try (Tensor t = r.read(name, Layout.PLAIN)) {
                    tensors.put(name, t.toByteArray());
                }
            }
            for (String k : STATE_KEYS) {
                state.put(k, r.metadata().get(k));
            }
            history = JSON.readValue(
                    r.metadata().getOrDefault("history", "[]"), new TypeReference<List<Map<String, Object>>>() {});
        }
        for (Map<String, Object> e : history) {
            TIMING.forEach(e::remove);
        }
        return new TrainingState(tensors, state, history);
    }

    int epoch() {
        return Integer.parseInt(state.get("epoch"));
    }

    void assertSameAs(TrainingState expected, String what) {
        assertEquals(expected.tensors.keySet(), tensors.keySet(), what + ": tensor names");
        for (String k : expected.tensors.keySet()) {
            assertArrayEquals(expected.tensors.get(k), tensors.get(k), what + ": tensor " + k + " differs");
        }
        assertEquals(expected.state, state, what + ": trainer state");
        assertEquals(expected.history, history, what + ": per-epoch losses and scores");
    }

    /**
     * Opens the checkpoint the way a user would (build the recorded model, load it) and checks that
     * every model value is finite; returns its epoch.
     */
    static int loadable(Path checkpoint) throws IOException {
        try (Backend be = Backends.reference();
                SegmentationModel m = Checkpoint.loadModel(checkpoint, be)) {
            for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
                if (e.getValue().dtype() == org.arunet.tensor.DType.F32) {
                    for (float v : e.getValue().toFloatArray()) {
                        if (!Float.isFinite(v)) {
                            throw new AssertionError(checkpoint + ": " + e.getKey() + " holds " + v);
                        }
                    }
                }
            }
        }
        return of(checkpoint).epoch();
    }

    /** Unfinished checkpoint writes ({@code .last.safetensors.*.tmp}) in a folder. */
    static List<Path> temporaryFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return new ArrayList<>(s.filter(p -> p.getFileName().toString().endsWith(".tmp"))
                    .sorted()
                    .toList());
        }
    }
}
