package org.arunet.backend.cpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A safetensors file from the test resources (8-byte little-endian header length, JSON header, raw
 * little-endian data), with the conversions a backend test needs: NCHW activations to NHWC.
 */
final class Fixture {
    private static final Pattern ENTRY =
            Pattern.compile("\"([^\"]+)\":\\s*\\{\"dtype\":\\s*\"(\\w+)\",\\s*\"shape\":\\s*\\[([^\\]]*)\\],\\s*"
                    + "\"data_offsets\":\\s*\\[(\\d+),\\s*(\\d+)\\]\\}");

    private record Entry(String dtype, int[] shape, ByteBuffer data) {}

    private final String name;
    private final Map<String, Entry> entries = new HashMap<>();

    private Fixture(String name, byte[] file) {
        this.name = name;
        ByteBuffer all = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        int headerLength = (int) all.getLong(0);
        String header = new String(file, 8, headerLength, StandardCharsets.UTF_8);
        Matcher m = ENTRY.matcher(header);
        while (m.find()) {
            String shapeText = m.group(3).trim();
            int[] shape = shapeText.isEmpty()
                    ? new int[0]
                    : java.util.Arrays.stream(shapeText.split(","))
                            .map(String::trim)
                            .mapToInt(Integer::parseInt)
                            .toArray();
            int begin = 8 + headerLength + Integer.parseInt(m.group(4));
            int end = 8 + headerLength + Integer.parseInt(m.group(5));
            ByteBuffer data = ByteBuffer.wrap(file, begin, end - begin).slice().order(ByteOrder.LITTLE_ENDIAN);
            entries.put(m.group(1), new Entry(m.group(2), shape, data));
        }
    }

    /** Reads {@code fixtures/<file>} next to this class. */
    static Fixture load(String file) {
        try (InputStream in = Fixture.class.getResourceAsStream("fixtures/" + file)) {
            if (in == null) {
                throw new IllegalStateException("missing test resource fixtures/" + file);
            }
            return new Fixture(file, in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Entry entry(String key) {
        Entry e = entries.get(key);
        if (e == null) {
            throw new IllegalArgumentException(name + " has no tensor " + key + " (has " + entries.keySet() + ")");
        }
        return e;
    }

    int[] shape(String key) {
        return entry(key).shape().clone();
    }

    /** The values of an F32 tensor in file order. */
    float[] floats(String key) {
        Entry e = entry(key);
        if (!e.dtype().equals("F32")) {
            throw new IllegalArgumentException(name + ": " + key + " is " + e.dtype());
        }
        float[] a = new float[e.data().remaining() / 4];
        e.data().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(a);
        return a;
    }

    /** An I64 tensor narrowed to int. */
    int[] ints(String key) {
        Entry e = entry(key);
        if (!e.dtype().equals("I64")) {
            throw new IllegalArgumentException(name + ": " + key + " is " + e.dtype());
        }
        long[] a = new long[e.data().remaining() / 8];
        e.data().duplicate().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(a);
        int[] r = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = Math.toIntExact(a[i]);
        }
        return r;
    }

    /** An NCHW tensor's values in NHWC order. */
    float[] nhwc(String key) {
        int[] s = shape(key);
        if (s.length != 4) {
            throw new IllegalArgumentException(name + ": " + key + " is not 4-D");
        }
        return nchwToNhwc(floats(key), s[0], s[1], s[2], s[3]);
    }

    static float[] nchwToNhwc(float[] a, int n, int c, int h, int w) {
        float[] r = new float[a.length];
        for (int in = 0; in < n; in++) {
            for (int ic = 0; ic < c; ic++) {
                for (int ih = 0; ih < h; ih++) {
                    for (int iw = 0; iw < w; iw++) {
                        r[((in * h + ih) * w + iw) * c + ic] = a[((in * c + ic) * h + ih) * w + iw];
                    }
                }
            }
        }
        return r;
    }
}
