package org.arunet.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Makes values JSON-safe: NaN and infinities become null (JSON has no such numbers). */
final class JsonValues {
    private JsonValues() {}

    static Object clean(Object o) {
        if (o instanceof Double d) {
            return d.isNaN() || d.isInfinite() ? null : d;
        }
        if (o instanceof Float f) {
            return f.isNaN() || f.isInfinite() ? null : f;
        }
        if (o instanceof double[] a) {
            List<Object> l = new ArrayList<>();
            for (double d : a) {
                l.add(clean(d));
            }
            return l;
        }
        if (o instanceof Map<?, ?> m) {
            Map<Object, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(k, clean(v)));
            return out;
        }
        if (o instanceof List<?> l) {
            List<Object> out = new ArrayList<>();
            for (Object x : l) {
                out.add(clean(x));
            }
            return out;
        }
        return o;
    }
}
