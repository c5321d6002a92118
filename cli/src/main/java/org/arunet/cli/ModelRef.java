package org.arunet.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.arunet.pretrained.PretrainedModels;
import picocli.CommandLine.Option;

/** {@code --model NAME|FILE}: a shipped model by name, or a checkpoint file. */
final class ModelRef {
    @Option(
            names = "--model",
            paramLabel = "NAME|FILE",
            required = true,
            description = "A shipped model by name"
                    + " (busi-compact; 'arunet info --models' lists them) or a checkpoint file (.safetensors).")
    String model;

    /** Whether --model names a shipped model (and not an existing file). */
    boolean isShipped() {
        return !Files.exists(Path.of(model)) && PretrainedModels.onClassPath().contains(model);
    }

    /** The checkpoint file: the file itself, or the shipped model extracted and verified. */
    Path checkpoint() throws IOException {
        return resolve("--model", model);
    }

    /** Resolves a NAME|FILE value of {@code option}: an existing file, else a shipped model's checkpoint. */
    static Path resolve(String option, String value) throws IOException {
        Path p = Path.of(value);
        if (Files.exists(p)) {
            return p;
        }
        PretrainedModels zoo = PretrainedModels.onClassPath();
        if (zoo.contains(value)) {
            return zoo.checkpoint(value);
        }
        if (value.contains("/") || value.contains("\\") || value.endsWith(".safetensors")) {
            throw new IllegalArgumentException(option + " " + value + ": no such file");
        }
        throw new IllegalArgumentException(option + " " + value + ": no such file, and "
                + zoo.list().stream()
                        .map(c -> c.name())
                        .reduce((a, b) -> a + ", " + b)
                        .map(k -> "no shipped model of that name (known: " + k + ")")
                        .orElse("no shipped models are on the class path"));
    }

    @Override
    public String toString() {
        return model;
    }
}
