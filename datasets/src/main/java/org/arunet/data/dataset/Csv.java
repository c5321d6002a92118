package org.arunet.data.dataset;

import java.util.ArrayList;
import java.util.List;

/** A small RFC 4180 reader: comma-separated, {@code "} quoting with {@code ""} escapes, CRLF or LF. */
final class Csv {
    private Csv() {}

    /** One parsed record with the 1-based line it starts on. */
    record Row(int line, List<String> fields) {}

    /** Parses all records; blank lines are dropped. Throws IllegalArgumentException on an unclosed quote. */
    static List<Row> parse(String text) {
        List<Row> rows = new ArrayList<>();
        List<String> fields = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false;
        boolean fieldStarted = false;
        int line = 1;
        int rowLine = 1;
        int i = 0;
        if (text.startsWith("\uFEFF")) {
            i = 1; // byte-order mark
        }
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"') {
                    if (i + 1 < text.length() && text.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    if (c == '\n') {
                        line++;
                    }
                    field.append(c);
                }
                continue;
            }
            switch (c) {
                case '"' -> {
                    quoted = true;
                    fieldStarted = true;
                }
                case ',' -> {
                    fields.add(field.toString());
                    field.setLength(0);
                    fieldStarted = true;
                }
                case '\r' -> {}
                case '\n' -> {
                    endRow(rows, fields, field, fieldStarted, rowLine);
                    fields = new ArrayList<>();
                    fieldStarted = false;
                    line++;
                    rowLine = line;
                }
                default -> {
                    field.append(c);
                    fieldStarted = true;
                }
            }
        }
        if (quoted) {
            throw new IllegalArgumentException("line " + rowLine + ": quoted field is not closed");
        }
        endRow(rows, fields, field, fieldStarted, rowLine);
        return rows;
    }

    private static void endRow(List<Row> rows, List<String> fields, StringBuilder field, boolean started, int line) {
        if (started || !fields.isEmpty()) {
            fields.add(field.toString());
            rows.add(new Row(line, fields));
        }
        field.setLength(0);
    }
}
