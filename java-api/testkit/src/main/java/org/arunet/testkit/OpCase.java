package org.arunet.testkit;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import org.arunet.tensor.Tensor;

/**
 * One parity check: inputs drawn from a seeded generator, a sequence of {@link Backend} calls, named
 * outputs, and the tolerance of each output. The same case runs on two backends (the CPU backend
 * here, the GPU backend on the GPU machine, from the CPU's inputs and outputs saved in a file) and the
 * outputs are compared ({@link Comparison}).
 */
public final class OpCase {
    /** Draws the inputs. */
    public interface Generator {
        Map<String, HostTensor> inputs(Random rnd);
    }

    /** Runs the ops on uploaded inputs and puts the outputs (downloaded) into {@code out}. */
    public interface Runner {
        void run(Scope s, Map<String, Tensor> in, Map<String, HostTensor> out);
    }

    private final String group;
    private final String name;
    private final Generator generator;
    private final Runner runner;
    private final Tolerance fp32;
    private final Map<String, Tolerance> perOutput;
    private final Tolerance fp16;
    private final Tolerance bf16;
    private final Map<String, Tolerance[]> halfPerOutput;
    private final Map<String, Tolerance[]> prefixes;

    private OpCase(Builder b) {
        this.group = b.group;
        this.name = b.name;
        this.generator = b.generator;
        this.runner = b.runner;
        this.fp32 = b.fp32;
        this.perOutput = Map.copyOf(b.perOutput);
        this.fp16 = b.fp16;
        this.bf16 = b.bf16;
        this.halfPerOutput = Map.copyOf(b.halfPerOutput);
        this.prefixes = new LinkedHashMap<>(b.prefixes);
    }

    public static Builder builder(String group, String name) {
        return new Builder(group, name);
    }

    /** The op family ("conv2d", "batchnorm", ...). */
    public String group() {
        return group;
    }

    /** Unique name, e.g. "conv2d/conv(16->32, k=3x3, s=1, p=1, d=1, bias) on [2, 12, 10]". */
    public String name() {
        return name;
    }

    /** The inputs, drawn from a generator seeded by the case name (the same on every machine). */
    public Map<String, HostTensor> inputs() {
        return generator.inputs(new Random(name.hashCode() * 2654435761L + 17));
    }

    /** Runs the case on {@code be} with the given inputs; returns the outputs in Java arrays. */
    public Map<String, HostTensor> run(Backend be, Map<String, HostTensor> inputs) {
        Map<String, HostTensor> out = new LinkedHashMap<>();
        try (Scope s = new Scope(be)) {
            Map<String, Tensor> in = new LinkedHashMap<>();
            for (Map.Entry<String, HostTensor> e : inputs.entrySet()) {
                in.put(e.getKey(), s.upload(e.getValue()));
            }
            runner.run(s, in, out);
        }
        return out;
    }

    /**
     * The tolerance of an output when the backend under test runs with {@code p}: the float32 one, or for
     * FP16 / BF16 the case's half-precision tolerance (convolutions and whole models) when it has one.
     */
    public Tolerance tolerance(String output, Precision p) {
        for (Map.Entry<String, Tolerance[]> e : prefixes.entrySet()) {
            if (output.startsWith(e.getKey())) {
                return e.getValue()[p.ordinal()];
            }
        }
        if (p != Precision.F32) {
            Tolerance[] h = halfPerOutput.get(output);
            if (h != null) {
                return p == Precision.F16 ? h[0] : h[1];
            }
            if (fp16 != null) {
                return p == Precision.F16 ? fp16 : bf16;
            }
        }
        return perOutput.getOrDefault(output, fp32);
    }

    @Override
    public String toString() {
        return name;
    }

    /** Builds a case. */
    public static final class Builder {
        private final String group;
        private final String name;
        private Generator generator;
        private Runner runner;
        private Tolerance fp32 = Tolerance.elementwise(1e-5, 1e-4);
        private final Map<String, Tolerance> perOutput = new LinkedHashMap<>();
        private Tolerance fp16;
        private Tolerance bf16;
        private final Map<String, Tolerance[]> halfPerOutput = new LinkedHashMap<>();
        private final Map<String, Tolerance[]> prefixes = new LinkedHashMap<>();

        private Builder(String group, String name) {
            this.group = group;
            this.name = group + "/" + name;
        }

        public Builder inputs(Generator g) {
            generator = g;
            return this;
        }

        public Builder run(Runner r) {
            runner = r;
            return this;
        }

        /** The default float32 tolerance of every output. */
        public Builder tolerance(Tolerance t) {
            fp32 = t;
            return this;
        }

        /** The float32 tolerance of one output. */
        public Builder tolerance(String output, Tolerance t) {
            perOutput.put(output, t);
            return this;
        }

        /** Tolerances of every output when the convolutions run in F16 or BF16. */
        public Builder half(Tolerance f16, Tolerance b16) {
            fp16 = f16;
            bf16 = b16;
            return this;
        }

        /** Half-precision tolerances of one output. */
        public Builder half(String output, Tolerance f16, Tolerance b16) {
            halfPerOutput.put(output, new Tolerance[] {f16, b16});
            return this;
        }

        /** Tolerances (F32, F16, BF16) of every output whose name starts with {@code prefix}. */
        public Builder prefix(String prefix, Tolerance f32, Tolerance f16, Tolerance b16) {
            prefixes.put(prefix, new Tolerance[] {f32, f16, b16});
            return this;
        }

        public OpCase build() {
            if (generator == null || runner == null) {
                throw new IllegalStateException(name + ": inputs and run are required");
            }
            return new OpCase(this);
        }
    }
}
