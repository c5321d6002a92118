package org.arunet.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.arunet.backend.Backend;
import org.arunet.backend.Backends;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/** Options and helpers shared by every subcommand. */
abstract class BaseCommand implements Callable<Integer> {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--json",
            description = "Print the result as JSON on standard output (progress goes to standard" + " error).")
    boolean json;

    @Option(
            names = {"-v", "--verbose"},
            description = "Log details and show stack traces of failures.")
    boolean verbose;

    @Option(
            names = "--config",
            paramLabel = "FILE",
            description = "JSON file of option defaults: {\"epochs\": 50,"
                    + " \"batch-size\": 2, ...}; options on the command line win.")
    Path config;

    /** The command's work; returns the exit code. */
    abstract int run() throws Exception;

    @Override
    public final Integer call() throws Exception {
        checkConfigKeys();
        try {
            return run();
        } catch (OutOfMemoryError e) {
            // picocli passes only Exceptions to the handler that prints one clear line; an Error would
            // end the JVM with a stack trace.
            throw new Errors.OutOfMemory(e);
        }
    }

    /** Rejects keys of --config that name no option of this command (typos would silently do nothing). */
    private void checkConfigKeys() throws IOException {
        if (config == null) {
            return;
        }
        // The same strict parse as Main's (one reader, one set of rules); its refusal names the file.
        ConfigFile file;
        try {
            file = ConfigFile.load(config);
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(e.getMessage());
        }
        List<String> names = spec.options().stream()
                .map(o -> o.longestName().replaceFirst("^-+", ""))
                .collect(Collectors.toList());
        for (String k : file.keys()) {
            if (!names.contains(k.toString())) {
                throw new Errors.UsageException("--config " + config + ": '" + k + "' is not an option of 'arunet "
                        + spec.name() + "' (known: " + String.join(", ", names) + ")");
            }
        }
    }

    /** Where human-readable progress goes: stderr with --json (stdout stays machine-readable), else stdout. */
    PrintStream info() {
        return json ? System.err : System.out;
    }

    /** Prints a JSON document on stdout. */
    void printJson(Object o) throws IOException {
        System.out.println(JSON.writeValueAsString(JsonValues.clean(o)));
    }

    static Backend backend(String device, int threads) {
        return Backends.create(device, threads);
    }

    /**
     * Applies --precision to a CPU backend: the inference convolutions and, for training, the training
     * convolutions too (bf16 mixed precision). The GPU chooses its precision with the device name.
     */
    static void applyPrecision(Backend be, org.arunet.backend.Precision p, boolean training) {
        if (p == org.arunet.backend.Precision.F32) {
            return;
        }
        if (be.name().equals("cuda")) {
            throw new Errors.UsageException("--precision " + p.name().toLowerCase(java.util.Locale.ROOT)
                    + " is for the CPU backend; on a GPU choose the precision with --device cuda:bf16 or cuda:fp16");
        }
        try {
            be.setInferencePrecision(p);
            if (training) {
                be.setTrainingPrecision(p);
            }
        } catch (IllegalArgumentException e) {
            throw new Errors.UsageException(
                    "--precision " + p.name().toLowerCase(java.util.Locale.ROOT) + ": " + e.getMessage());
        }
    }

    /**
     * Creates {@code dir}; refuses to reuse a folder that already holds {@code marker} unless
     * {@code force}.
     */
    static void prepareOut(Path dir, String marker, boolean force) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new Errors.UsageException("--out " + dir + " exists and is not a folder");
        }
        if (!force && marker != null && Files.exists(dir.resolve(marker))) {
            throw new Errors.UsageException("--out " + dir + " already holds " + marker
                    + "; choose another folder or add --force to overwrite");
        }
        Files.createDirectories(dir);
    }

    /** Writes every option's effective value as {@code config.json} (reusable with --config). */
    void writeEffectiveConfig(Path dir) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        for (CommandLine.Model.OptionSpec o : spec.options()) {
            String name = o.longestName().replaceFirst("^-+", "");
            if (o.usageHelp()
                    || o.versionHelp()
                    || name.equals("config")
                    || name.equals("json")
                    || name.equals("verbose")
                    || name.equals("force")
                    || name.equals("resume")) {
                continue;
            }
            Object v = o.getValue();
            m.put(name, jsonValue(v));
        }
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(m) + "\n");
    }

    /** Option values as JSON-friendly values: paths and enums as strings, lists element by element. */
    private static Object jsonValue(Object v) {
        if (v == null || v instanceof Number || v instanceof Boolean || v instanceof String) {
            return v;
        }
        if (v instanceof Enum<?> e) {
            return e.name().toLowerCase().replace('_', '-');
        }
        if (v instanceof List<?> l) {
            return l.stream().map(BaseCommand::jsonValue).collect(Collectors.toList());
        }
        return v.toString();
    }

    /** Checks a required path option. */
    static void requireExists(String option, Path p) {
        if (p == null) {
            throw new Errors.UsageException("missing " + option);
        }
        if (!Files.exists(p)) {
            throw new IllegalArgumentException(option + " " + p + ": no such file or folder");
        }
    }
}
