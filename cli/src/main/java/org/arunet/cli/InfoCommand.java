package org.arunet.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.arunet.io.SafeTensors;
import org.arunet.pretrained.ModelCard;
import org.arunet.pretrained.PretrainedModels;
import org.arunet.train.Checkpoint;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "info",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Show what a checkpoint holds: architecture, parameters, input preprocessing, training"
                    + " configuration, progress and validation metrics, provenance.",
            "For a shipped model (--model busi-compact), its model card first: data, recipe, test metrics, speed,"
                    + " intended use. --models lists the shipped models."
        })
final class InfoCommand extends BaseCommand {
    @Option(names = "--model", paramLabel = "NAME|FILE", description = "A shipped model by name or a checkpoint file.")
    String model;

    @Option(names = "--models", description = "List the shipped models (name, version, summary).")
    boolean list;

    @Override
    int run() throws Exception {
        PretrainedModels zoo = PretrainedModels.onClassPath();
        if (list) {
            return listModels(zoo);
        }
        if (model == null) {
            throw new Errors.UsageException("give --model NAME|FILE, or --models to list the shipped models");
        }
        Path file = ModelRef.resolve("--model", model);
        boolean shipped = !Files.exists(Path.of(model));
        Map<String, Object> r = new LinkedHashMap<>();
        if (shipped) {
            ModelCard card = zoo.card(model);
            r.put("model", cardMap(card));
            if (!json) {
                System.out.println(zoo.cardText(model).strip());
                System.out.println();
                System.out.println("---- checkpoint ----");
            }
        }
        try (SafeTensors.Reader rd = Checkpoint.open(file)) {
            Map<String, String> meta = rd.metadata();
            long params = 0;
            long tensors = 0;
            boolean optimizer = false;
            for (SafeTensors.Entry e : rd.entries().values()) {
                if (e.name().startsWith("model.")) {
                    tensors++;
                    if (!e.name().endsWith("running_mean")
                            && !e.name().endsWith("running_var")
                            && !e.name().endsWith("num_batches_tracked")) {
                        params += e.numel();
                    }
                } else if (e.name().startsWith("optim.")) {
                    optimizer = true;
                }
            }
            r.put("file", shipped ? model + " (shipped; extracted to " + file + ")" : file.toString());
            r.put("bytes", Files.size(file));
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

    private int listModels(PretrainedModels zoo) throws Exception {
        List<Map<String, Object>> rows = new ArrayList<>();
        for (ModelCard c : zoo.list()) {
            rows.add(cardMap(c));
        }
        if (json) {
            printJson(Map.of("models", rows));
        } else if (rows.isEmpty()) {
            System.out.println("no shipped models on the class path (they come with org.arunet:arunet-models)");
        } else {
            for (ModelCard c : zoo.list()) {
                System.out.printf(
                        Locale.ROOT,
                        "%-16s v%-4s %,11d parameters  %5.1f MB  %s%n",
                        c.name(),
                        c.version(),
                        c.parameters(),
                        c.bytes() / 1e6,
                        c.summary());
            }
            System.out.println("details: arunet info --model NAME");
        }
        return 0;
    }

    private static Map<String, Object> cardMap(ModelCard c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", c.name());
        m.put("version", c.version());
        m.put("summary", c.summary());
        m.put("parameters", c.parameters());
        m.put("bytes", c.bytes());
        m.put("sha256", c.sha256());
        m.put("image_size", c.imageSize());
        m.put("data", c.data());
        m.put("intended_use", c.intendedUse());
        return m;
    }

    private static void putJson(Map<String, Object> r, String key, String json) throws Exception {
        if (json != null) {
            r.put(key, JSON.readValue(json, Map.class));
        }
    }
}
