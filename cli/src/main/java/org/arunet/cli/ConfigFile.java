package org.arunet.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import picocli.CommandLine;

/**
 * Option defaults from a JSON file ({@code --config FILE}): keys are long option names without the
 * dashes ({@code "epochs": 50}, {@code "batch-size": 2}); values are strings, numbers, booleans or
 * arrays of those. The JSON is read strictly (no key twice, nothing after the object). Options given
 * on the command line win. The effective configuration a command used is
 * written next to its outputs as {@code config.json}, in the same format, so a run can be repeated.
 */
final class ConfigFile implements CommandLine.IDefaultValueProvider {
    private final Path file;
    private final Map<String, String> values;

    private final java.util.Set<String> keys;

    private ConfigFile(Path file, Map<String, String> values, java.util.Set<String> keys) {
        this.file = file;
        this.values = values;
        this.keys = keys;
    }

    /** Strict: a key given twice or anything after the object is an error, not silently dropped. */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    static ConfigFile load(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("--config " + file + ": not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("--config " + file + ": must hold a JSON object of option values");
        }
        Map<String, String> v = new HashMap<>();
        Iterator<Map.Entry<String, JsonNode>> it = root.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            JsonNode n = e.getValue();
            if (n.isObject()) {
                throw new IllegalArgumentException("--config " + file + ": value of '" + e.getKey()
                        + "' must be a string, number, boolean or array");
            }
            if (n.isArray()) {
                StringBuilder sb = new StringBuilder();
                for (JsonNode x : n) {
                    if (!x.isValueNode() || x.isNull()) {
                        throw new IllegalArgumentException("--config " + file + ": elements of '" + e.getKey()
                                + "' must be strings, numbers or booleans");
                    }
                    sb.append(sb.length() == 0 ? "" : ",").append(x.asText());
                }
                v.put(e.getKey(), sb.toString());
            } else if (!n.isNull()) {
                v.put(e.getKey(), n.asText());
            }
        }
        java.util.Set<String> keys = new java.util.LinkedHashSet<>();
        root.fieldNames().forEachRemaining(keys::add);
        return new ConfigFile(file, v, keys);
    }

    @Override
    public String defaultValue(CommandLine.Model.ArgSpec arg) {
        if (arg instanceof CommandLine.Model.OptionSpec o) {
            String key = o.longestName().replaceFirst("^-+", "");
            return values.get(key);
        }
        return null;
    }

    /** Every key of the file, null-valued ones included. */
    java.util.Set<String> keys() {
        return java.util.Collections.unmodifiableSet(keys);
    }

    Path file() {
        return file;
    }

    /** Whether this file gives a value for {@code option}. */
    boolean provides(CommandLine.Model.OptionSpec option) {
        return values.containsKey(option.longestName().replaceFirst("^-+", ""));
    }
}
