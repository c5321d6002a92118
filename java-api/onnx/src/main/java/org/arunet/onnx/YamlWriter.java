package org.arunet.onnx;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Writes nested maps, lists and scalars as block-style YAML 1.2: mappings as {@code key: value},
 * sequences as {@code - item}, every string double-quoted with JSON escapes (so no string is ever read
 * back as a number, a boolean or null), numbers and booleans plain. Small on purpose: the subset a
 * bioimage.io {@code rdf.yaml} needs, with no YAML library in the export path (the tests parse the output
 * with SnakeYAML). Keys must be plain identifiers.
 */
final class YamlWriter {
    private YamlWriter() {}

    static String write(Map<String, ?> root) {
        StringBuilder out = new StringBuilder();
        mapping(out, root, 0);
        return out.toString();
    }

    private static void mapping(StringBuilder out, Map<String, ?> m, int indent) {
        if (m.isEmpty()) {
            throw new IllegalArgumentException("empty mapping");
        }
        for (Map.Entry<String, ?> e : m.entrySet()) {
            String key = e.getKey();
            if (!key.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                throw new IllegalArgumentException("key '" + key + "' is not a plain identifier");
            }
            out.append(" ".repeat(indent)).append(key).append(':');
            value(out, e.getValue(), indent);
        }
    }

    /** The value after "key:" or "-": inline for scalars and empty lists, else on the following lines. */
    @SuppressWarnings("unchecked")
    private static void value(StringBuilder out, Object v, int indent) {
        if (v instanceof Map<?, ?> m) {
            out.append('\n');
            mapping(out, (Map<String, ?>) m, indent + 2);
        } else if (v instanceof List<?> l) {
            if (l.isEmpty()) {
                out.append(" []\n");
                return;
            }
            out.append('\n');
            for (Object item : l) {
                out.append(" ".repeat(indent + 2)).append('-');
                if (item instanceof Map<?, ?> m) {
                    // "- k1: v1" then the other keys aligned under k1
                    StringBuilder sub = new StringBuilder();
                    mapping(sub, (Map<String, ?>) m, indent + 4);
                    out.append(' ').append(sub.substring(indent + 4));
                } else if (item instanceof List<?>) {
                    throw new IllegalArgumentException("lists of lists are not written");
                } else {
                    out.append(' ').append(scalar(item)).append('\n');
                }
            }
        } else {
            out.append(' ').append(scalar(v)).append('\n');
        }
    }

    static String scalar(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof Boolean b) {
            return b.toString();
        }
        if (v instanceof Integer || v instanceof Long) {
            return v.toString();
        }
        if (v instanceof Double || v instanceof Float) {
            double d = ((Number) v).doubleValue();
            if (!Double.isFinite(d)) {
                throw new IllegalArgumentException("non-finite number " + d);
            }
            String s = String.format(Locale.ROOT, "%s", d);
            return s.contains(".") || s.contains("E") || s.contains("e") ? s : s + ".0";
        }
        if (v instanceof CharSequence s) {
            return quote(s.toString());
        }
        throw new IllegalArgumentException("cannot write a " + v.getClass().getName() + " as YAML");
    }

    private static String quote(String s) {
        StringBuilder q = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> q.append("\\\"");
                case '\\' -> q.append("\\\\");
                case '\n' -> q.append("\\n");
                case '\t' -> q.append("\\t");
                case '\r' -> q.append("\\r");
                default -> {
                    if (c < 0x20 || c == 0x7F) {
                        q.append(String.format("\\u%04x", (int) c));
                    } else {
                        q.append(c);
                    }
                }
            }
        }
        return q.append('"').toString();
    }
}
