package org.arunet.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.arunet.pretrained.ModelCard;
import org.arunet.pretrained.ModelPacker;
import org.arunet.pretrained.PretrainedModels;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "pack-model",
        mixinStandardHelpOptions = true,
        showDefaultValues = true,
        usageHelpAutoWidth = true,
        description = {
            "Turn a trained checkpoint into a model that ships and loads by name: the weights only"
                    + " (float16 by default), metadata without machine paths, and an entry in a model catalog.",
            "--out is laid out as a jar's content (META-INF/arunet/models.json, org/arunet/models/NAME.safetensors"
                    + " and NAME.md); 'jar cf my-models.jar -C OUT .' makes a jar whose models Segmenter.pretrained(NAME)"
                    + " and 'arunet predict --model NAME' find when it is on the class path. Entries of other models"
                    + " already in --out are kept."
        })
final class PackModelCommand extends BaseCommand {
    @Option(
            names = "--model",
            paramLabel = "FILE",
            required = true,
            description = "Trained checkpoint" + " (e.g. runs/x/checkpoints/best.safetensors).")
    Path model;

    @Option(
            names = "--name",
            required = true,
            description = "Name to load it by: lower-case letters, digits, '.'," + " '_', '-'.")
    String name;

    @Option(names = "--model-version", defaultValue = "1", description = "The model's own version.")
    String modelVersion;

    @Option(names = "--summary", required = true, description = "One line: network, input size, data.")
    String summary;

    @Option(
            names = "--data",
            paramLabel = "TEXT",
            required = true,
            description = "The training data in a few" + " words, with its licence.")
    String data;

    @Option(
            names = "--intended-use",
            defaultValue = "research; not a medical device",
            description = "What the" + " model may be used for.")
    String intendedUse;

    @Option(names = "--card", paramLabel = "FILE", description = "Model card (Markdown) to copy in as NAME.md.")
    Path card;

    @Option(names = "--float32", description = "Keep float32 weights (default: float16, half the size).")
    boolean float32;

    @Option(names = "--out", paramLabel = "DIR", required = true, description = "Folder to write into.")
    Path out;

    @Override
    int run() throws Exception {
        requireExists("--model", model);
        if (card != null) {
            requireExists("--card", card);
        }
        if (!name.matches("[a-z0-9][a-z0-9._-]{0,63}")) {
            throw new Errors.UsageException("--name '" + name + "': use lower-case letters, digits, '.', '_', '-'"
                    + " (at most 64, starting with a letter or digit)");
        }
        Files.createDirectories(out);
        ModelCard c = ModelPacker.pack(
                new ModelPacker.Request(model, name, modelVersion, summary, data, intendedUse, !float32, card), out);
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("name", c.name());
        r.put("version", c.version());
        r.put("weights", out.resolve(c.resource()).toString());
        r.put("catalog", out.resolve(PretrainedModels.CATALOG).toString());
        r.put("sha256", c.sha256());
        r.put("bytes", c.bytes());
        r.put("parameters", c.parameters());
        if (json) {
            printJson(r);
        } else {
            System.out.printf(
                    Locale.ROOT,
                    "packed %s v%s: %s (%.1f MB, %,d parameters, SHA-256 %s); catalog %s%n",
                    c.name(),
                    c.version(),
                    r.get("weights"),
                    c.bytes() / 1e6,
                    c.parameters(),
                    c.sha256(),
                    r.get("catalog"));
        }
        return 0;
    }
}
