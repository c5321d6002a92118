package org.arunet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.arunet.io.SafeTensors;
import org.arunet.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "info", mixinStandardHelpOptions = true, showDefaultValues = true, usageHelpAutoWidth = true,
        description = "Show what a checkpoint holds: architecture, parameters, input preprocessing, training"
                + " configuration, progress and validation metrics, provenance.")
final class InfoCommand extends BaseCommand {
    @Option(names = "--model", paramLabel = "FILE", required = true, description = "Checkpoint.")
    Path model;

    @Override
    int run() throws Exception {
        requireExists("--model", model);
        Map<String, Object> r = new LinkedHashMap<>();
        try (SafeTensors.Reader rd = Checkpoint.open(model)) {
            Map<String, String> meta = rd.metadata();
            long params = 0;
            long tensors = 0;
            boolean optimizer = false;
            for (SafeTensors.Entry e : rd.entries().values()) {
                if (e.name().startsWith("model.")) {
                    tensors++;
                    if (!e.name().endsWith("running_mean") && !e.name().endsWith("running_var")
                            && !e.name().endsWith("num_batches_tracked")) {
                        params += e.numel();
                    }
                } else if (e.name().startsWith("optim.")) {
                    optimizer = true;
                }
            }
            r.put("file", model.toString());
            r.put("bytes", Files.size(model));
            r.put("architecture", Checkpoint.architecture(rd));
            r.put("parameters", params);
            r.put("model_tensors", tensors);
            r.put("has_optimizer_state", optimizer);
            putJson(r, "preprocessing", meta.get("preprocessing"));
            putJson(r, "trainer", meta.get("trainer"));
            if (meta.containsKey("epoch")) {
                r.put("epochs_completed", Integer.parseInt(meta.get("epoch")) + 1);
            }
            if (meta.containsKey("optimizer_steps")) {
                r.put("optimizer_steps", Long.parseLong(meta.get("optimizer_steps")));
            }
            if (meta.containsKey("best_epoch")) {
                r.put("best_epoch", Integer.parseInt(meta.get("best_epoch")) + 1);
                r.put("best_val_loss", Double.parseDouble(meta.get("best_val_loss")));
            }
            if (meta.containsKey("history")) {
                JsonNode h = JSON.readTree(meta.get("history"));
                if (h.isArray() && h.size() > 0) {
                    r.put("last_epoch", JSON.convertValue(h.get(h.size() - 1), Map.class));
                }
            }
            putJson(r, "loss_scaler", meta.get(Checkpoint.LOSS_SCALER));
            putJson(r, "provenance", meta.get("provenance"));
        }
        if (json) {
            printJson(r);
        } else {
            for (Map.Entry<String, Object> e : r.entrySet()) {
                System.out.printf("%-22s %s%n", e.getKey(), e.getValue());
            }
        }
        return 0;
    }

    private static void putJson(Map<String, Object> r, String key, String json) throws Exception {
        if (json != null) {
            r.put(key, JSON.readValue(json, Map.class));
        }
    }
}
