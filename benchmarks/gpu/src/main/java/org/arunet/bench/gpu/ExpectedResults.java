package org.arunet.bench.gpu;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.arunet.backend.Backend;
import org.arunet.io.SafeTensors;
import org.arunet.tensor.Layout;
import org.arunet.tensor.Tensor;
import org.arunet.testkit.HostTensor;
import org.arunet.testkit.OpCase;

/**
 * The file of expected parity results: for every {@link OpCase}, its inputs and the outputs a reference
 * backend (the CPU backend, on the CPU machine) produced, as safetensors entries
 * {@code <case name>|in|<input>} and {@code <case name>|out|<output>}, each tensor's layout in the
 * metadata ({@code layout|<entry>}). The GPU side reads the inputs back instead of drawing them again,
 * so both sides compute from identical values.
 */
final class ExpectedResults {
    static final String IN = "|in|";
    static final String OUT = "|out|";

    private ExpectedResults() {}

    /** Runs every case on {@code reference} and writes inputs and outputs to {@code file}. */
    static void write(Path file, List<OpCase> cases, Backend reference, PrintStream log) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("arunet.expected", "parity results of the CPU backend, written by GpuHarness expected");
        meta.put("cases", Integer.toString(cases.size()));
        try {
            for (OpCase c : cases) {
                long t0 = System.nanoTime();
                Map<String, HostTensor> in = c.inputs();
                Map<String, HostTensor> out = c.run(reference, in);
                put(tensors, meta, c.name() + IN, in);
                put(tensors, meta, c.name() + OUT, out);
                log.printf(
                        "expected %-100s %3d outputs %6.0f ms%n", c.name(), out.size(), (System.nanoTime() - t0) / 1e6);
            }
            SafeTensors.write(file, tensors, meta);
        } finally {
            tensors.values().forEach(Tensor::close);
        }
    }

    private static void put(
            Map<String, Tensor> tensors, Map<String, String> meta, String prefix, Map<String, HostTensor> values) {
        for (Map.Entry<String, HostTensor> e : values.entrySet()) {
            String key = prefix + e.getKey();
            tensors.put(key, e.getValue().toHost());
            meta.put("layout|" + key, e.getValue().layout().name());
        }
    }

    /** An open expected-results file. */
    static final class Reader implements AutoCloseable {
        private final SafeTensors.Reader reader;

        Reader(Path file) throws IOException {
            this.reader = SafeTensors.open(file);
        }

        boolean has(OpCase c) {
            for (String k : reader.entries().keySet()) {
                if (k.startsWith(c.name() + IN) || k.startsWith(c.name() + OUT)) {
                    return true;
                }
            }
            return false;
        }

        Map<String, HostTensor> inputs(OpCase c) throws IOException {
            return section(c.name() + IN);
        }

        Map<String, HostTensor> outputs(OpCase c) throws IOException {
            return section(c.name() + OUT);
        }

        private Map<String, HostTensor> section(String prefix) throws IOException {
            Map<String, HostTensor> out = new LinkedHashMap<>();
            List<String> keys = new ArrayList<>();
            for (String k : reader.entries().keySet()) {
                if (k.startsWith(prefix)) {
                    keys.add(k);
                }
            }
            for (String k : keys) {
                Layout layout = Layout.valueOf(reader.metadata().getOrDefault("layout|" + k, "PLAIN"));
                try (Tensor t = reader.read(k, layout)) {
                    HostTensor h = HostTensor.of(t);
                    out.put(
                            k.substring(prefix.length()),
                            new HostTensor(h.dtype(), layout, h.shape(), h.floats(), h.ints(), h.longs()));
                }
            }
            return out;
        }

        @Override
        public void close() throws IOException {
            reader.close();
        }
    }
}
