package org.arunet.bench.gpu;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import org.arunet.backend.cuda.Cuda;
import org.arunet.backend.cuda.CudaBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.testkit.AmpGradientCriterion;
import org.arunet.testkit.Comparison;
import org.arunet.testkit.OpCases;

/**
 * The GPU machine's Java entry point (run by {@code benchmarks/gpu/run-on-gpu.sh} from the thin jar
 * with the bundled runtime), and the CPU side's (run by {@code benchmarks/gpu/prepare.sh}).
 *
 * <pre>
 *   probe                                   one line: the GPU and library versions, or why there is none
 *                                           (exit status 0 with a GPU, 2 without)
 *   expected --out FILE                     CPU side: every parity case on the CPU backend, inputs and
 *                                           outputs to FILE
 *   names --out FILE                        CPU side: the default ARU-Net's parameter names and shapes,
 *                                           for the PyTorch peer's structure check
 *   parity --expected FILE --fixture FILE --json FILE [--precisions fp32,fp16,bf16]
 *          [--half-groups conv2d,model] [--groups a,b] [--cases-file FILE] [--remaining FILE]
 *          [--detail FILE (every output's comparison; default: the standard output)]
 *          [--progress FILE (START/END lines around each case)] [--exclude-file FILE ("precision name" lines)]
 *          [--amp-spread FILE (amp_gradient_spread.py --json: PyTorch AMP's gradient spread, the reference
 *          of the fp16/bf16 gradient check; without it, or for a precision it lacks, the H200 calibration)]
 *          [--backend cuda|reference]
 *   bench --json FILE --configs fp16:infer:1,fp32:train:8,... [--size 512] [--width 64]
 *          [--min-seconds 2] [--min-iterations 3] [--max-seconds 10] [--deadline 140]
 *          [--backend cuda|reference]
 *   profile --configs fp16:infer:1,fp16:fused:1,fp16:train:8,... [--size 512] [--width 64] [--passes 5]
 *          [--deadline 60] [--backend cuda|reference]      op-by-op times ({@link OpProfileRun})
 * </pre>
 *
 * Exit status of parity: 0 when every case passed, 1 when some failed, 3 when the CUDA context was lost
 * (the cases not run are listed in {@code --remaining}). {@code --backend reference} runs the GPU-side
 * code paths on the pure-Java reference backend: a rehearsal on a machine without a GPU.
 */
public final class GpuHarness {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private GpuHarness() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage("no command");
        }
        Map<String, String> opt = options(Arrays.copyOfRange(args, 1, args.length));
        PrintStream out = System.out;
        int status;
        switch (args[0]) {
            case "probe" -> {
                out.println(Cuda.describe());
                status = Cuda.available() ? 0 : 2;
            }
            case "expected" -> status = CpuSide.expected(Path.of(require(opt, "out")), out);
            case "names" -> status = CpuSide.names(Path.of(require(opt, "out")), out);
            case "parity" -> status = parity(opt, out);
            case "bench" -> status = bench(opt, out);
            case "profile" -> status = profile(opt, out);
            default -> {
                usage("unknown command " + args[0]);
                status = 2;
            }
        }
        out.flush();
        System.exit(status);
    }

    private static void usage(String why) {
        System.err.println("GpuHarness: " + why + "\nusage: GpuHarness probe | expected --out FILE | names --out FILE"
                + " | parity --expected FILE --fixture FILE --json FILE [...] | bench --json FILE --configs LIST [...]"
                + " | profile --configs LIST [...]");
        System.exit(2);
    }

    static Map<String, String> options(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) {
                throw new IllegalArgumentException("expected --name value pairs, got '" + args[i] + "'");
            }
            m.put(args[i].substring(2), args[++i]);
        }
        return m;
    }

    private static String require(Map<String, String> opt, String name) {
        String v = opt.get(name);
        if (v == null) {
            throw new IllegalArgumentException("missing --" + name);
        }
        return v;
    }

    static Set<String> list(String s) {
        Set<String> out = new LinkedHashSet<>();
        if (s != null) {
            for (String p : s.split(",")) {
                if (!p.isBlank()) {
                    out.add(p.trim());
                }
            }
        }
        return out;
    }

    /** Backends by precision: the GPU backend, or the reference backend for rehearsals. */
    static Function<Precision, Backend> backends(String kind) {
        return switch (kind) {
            case "cuda" -> CudaBackend::new;
            case "reference" -> p -> new ReferenceBackend();
            default -> throw new IllegalArgumentException("--backend must be cuda or reference, got " + kind);
        };
    }

    static void writeJson(Path file, Object value) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, JSON.writeValueAsString(value), StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    static Map<String, Object> environment(String backend) {
        Map<String, Object> env = new LinkedHashMap<>();
        env.put("backend", backend);
        env.put("gpu", Cuda.describe());
        env.put("java", System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
        env.put("sync_each_op", System.getProperty("arunet.cuda.sync", System.getenv("ARUNET_CUDA_SYNC")));
        env.put("tf32_override", System.getenv("NVIDIA_TF32_OVERRIDE"));
        env.put("written", Instant.now().toString());
        return env;
    }

    // ------------------------------------------------------------------ parity

    private static int parity(Map<String, String> opt, PrintStream out) throws IOException {
        String backend = opt.getOrDefault("backend", "cuda");
        Path json = Path.of(require(opt, "json"));
        List<Precision> precisions = new ArrayList<>();
        for (String p : list(opt.getOrDefault("precisions", "fp32,fp16,bf16"))) {
            precisions.add(Precision.parse(p));
        }
        Set<String> groups = list(opt.get("groups"));
        Set<String> halfGroups = list(opt.getOrDefault("half-groups", "conv2d,fused,model"));
        Set<String> only = new LinkedHashSet<>();
        if (opt.containsKey("cases-file")) {
            for (String line : Files.readAllLines(Path.of(opt.get("cases-file")))) {
                if (!line.isBlank()) {
                    only.add(line.trim());
                }
            }
        }
        boolean fixture = !opt.getOrDefault("fixture", "").isEmpty();
        out.println("parity on " + backend + ": " + Cuda.describe());
        PrintStream detail = out;
        if (opt.containsKey("detail")) {
            detail = new PrintStream(
                    Files.newOutputStream(
                            Path.of(opt.get("detail")),
                            java.nio.file.StandardOpenOption.CREATE,
                            java.nio.file.StandardOpenOption.APPEND),
                    true,
                    StandardCharsets.UTF_8);
            out.println("every output's comparison: " + opt.get("detail"));
        }
        ParityRun run = new ParityRun(
                Path.of(require(opt, "expected")),
                fixture ? Path.of(opt.get("fixture")) : null,
                backends(backend),
                out,
                detail);
        run.ampSpreads = AmpSpreads.read(opt.containsKey("amp-spread") ? Path.of(opt.get("amp-spread")) : null);
        if (opt.containsKey("amp-conditioned")) {
            run.conditionedSpreads = AmpSpreads.read(Path.of(opt.get("amp-conditioned")));
        }
        if (opt.containsKey("exclude-file")) {
            Set<String> ex = new LinkedHashSet<>();
            for (String line : Files.readAllLines(Path.of(opt.get("exclude-file")))) {
                if (!line.isBlank()) {
                    ex.add(line.trim());
                }
            }
            run.excluded = ex;
        }
        if (opt.containsKey("progress")) {
            run.progress = new PrintStream(
                    Files.newOutputStream(
                            Path.of(opt.get("progress")),
                            java.nio.file.StandardOpenOption.CREATE,
                            java.nio.file.StandardOpenOption.APPEND),
                    true,
                    StandardCharsets.UTF_8);
        }
        long t0 = System.nanoTime();
        run.afterEach = () -> {
            try {
                writeJson(json, parityDocument(run, backend, t0));
            } catch (IOException e) {
                out.println("cannot write " + json + ": " + e.getMessage());
            }
        };
        for (Precision p : precisions) {
            Set<String> only1 = new LinkedHashSet<>();
            for (String s : only) {
                if (s.startsWith(p + " ")) {
                    only1.add(s.substring(p.toString().length() + 1));
                }
            }
            if (!only.isEmpty() && only1.isEmpty()) {
                continue;
            }
            boolean fixtureHere = fixture && (only.isEmpty() || only1.remove("fixture"));
            if (!only.isEmpty() && only1.isEmpty() && !fixtureHere) {
                continue;
            }
            run.run(p, p == Precision.F32 ? groups : halfGroups, only1, fixtureHere);
            if (run.contextLost) {
                // every later precision is left for fresh processes too
                for (Precision q : precisions.subList(precisions.indexOf(p) + 1, precisions.size())) {
                    for (var c : OpCases.all()) {
                        if (q == Precision.F32
                                ? groups.isEmpty() || groups.contains(c.group())
                                : halfGroups.contains(c.group())) {
                            run.notRun.add(q + " " + c.name());
                        }
                    }
                    if (fixture) {
                        run.notRun.add(q + " fixture");
                    }
                }
                break;
            }
        }
        if (!run.contextLost && !opt.getOrDefault("conditioned", "on").equals("off")) {
            run.conditioned(precisions.stream().filter(Precision::isHalf).toList());
        }
        if (opt.containsKey("remaining")) {
            run.writeNotRun(Path.of(opt.get("remaining")));
        }
        writeJson(json, parityDocument(run, backend, t0));
        printSummary(run, out);
        if (detail != out) {
            printSummary(run, detail);
            detail.close();
        }
        if (run.progress != null) {
            run.progress.close();
        }
        if (run.contextLost) {
            return 3;
        }
        return run.failures().isEmpty() && run.notRun.isEmpty() ? 0 : 1;
    }

    private static Map<String, Object> parityDocument(ParityRun run, String backend, long t0) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("environment", environment(backend));
        doc.put("seconds", (System.nanoTime() - t0) / 1e9);
        doc.put("summary", summary(run));
        doc.put("failures", run.failures());
        doc.put("not_run", run.notRun);
        doc.put("amp_spread", run.ampSpreads.document());
        List<Map<String, Object>> amp = new ArrayList<>();
        for (ParityRun.AmpCheck a : run.ampChecks) {
            AmpGradientCriterion.Verdict v = a.verdict();
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("precision", a.precision());
            m.put("case", a.caseName());
            m.put("pass", v.pass());
            m.put("arunet_median", finite(v.median()));
            m.put("arunet_worst", finite(v.worst()));
            m.put("arunet_worst_parameter", v.worstParameter());
            m.put("torch_median", v.reference().median());
            m.put("torch_worst", v.reference().worst());
            m.put("torch_worst_parameter", v.reference().worstParameter());
            m.put("torch_measured_in_this_run", a.measured());
            m.put("torch_source", v.reference().source());
            m.put("median_bound", v.medianBound());
            m.put("median_ok", v.medianOk());
            Map<String, Object> over = new LinkedHashMap<>();
            v.overBound().forEach((k, e) -> over.put(k, finite(e)));
            m.put("over_bound", over);
            m.put("line", v.line());
            amp.add(m);
        }
        doc.put("amp_gradient_checks", amp);
        List<Map<String, Object>> cases = new ArrayList<>();
        for (ParityRun.CaseOutcome o : run.outcomes) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("precision", o.precision());
            c.put("group", o.group());
            c.put("name", o.name());
            c.put("pass", o.pass());
            c.put("seconds", o.seconds());
            if (o.error() != null) {
                c.put("error", o.error());
            }
            List<Map<String, Object>> outputs = new ArrayList<>();
            for (Comparison.Result r : o.results()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("output", r.output());
                m.put("pass", r.pass());
                m.put("elements", r.elements());
                m.put("bad", r.bad());
                m.put("max_abs", finite(r.maxAbs()));
                m.put("norm_rel", finite(r.normRel()));
                m.put("tolerance", r.tolerance());
                outputs.add(m);
            }
            c.put("outputs", outputs);
            cases.add(c);
        }
        doc.put("cases", cases);
        return doc;
    }

    private static Object finite(double v) {
        return Double.isFinite(v) ? (Object) v : Double.toString(v);
    }

    /** Per precision and group: cases passed / run, and the worst norm-wise error among the outputs. */
    private static Map<String, Object> summary(ParityRun run) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (ParityRun.CaseOutcome o : run.outcomes) {
            @SuppressWarnings("unchecked")
            Map<String, Object> g = (Map<String, Object>) out.computeIfAbsent(
                    o.precision() + " " + o.group(),
                    k -> new LinkedHashMap<>(Map.of("passed", 0, "run", 0, "worst_norm_rel", 0.0)));
            g.put("run", (int) g.get("run") + 1);
            g.put("passed", (int) g.get("passed") + (o.pass() ? 1 : 0));
            for (Comparison.Result r : o.results()) {
                if (Double.isFinite(r.normRel())) {
                    g.put("worst_norm_rel", Math.max((double) g.get("worst_norm_rel"), r.normRel()));
                }
            }
        }
        return out;
    }

    private static void printSummary(ParityRun run, PrintStream out) {
        out.println();
        out.println("parity summary (cases passed / run, worst norm-wise relative error):");
        summary(run).forEach((k, v) -> {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) v;
            out.printf("  %-22s %3d / %-3d worst %.2e%n", k, m.get("passed"), m.get("run"), m.get("worst_norm_rel"));
        });
        if (!run.notRun.isEmpty()) {
            out.println("  not run (CUDA context lost): " + run.notRun.size() + " cases");
        }
        if (!run.ampChecks.isEmpty()) {
            out.println("mixed-precision gradients vs PyTorch AMP (norm-wise error per parameter vs float32;"
                    + " median <= 1.25 x PyTorch's, each <= max(2 x PyTorch's on it, 5 x its median)):");
            for (ParityRun.AmpCheck a : run.ampChecks) {
                AmpGradientCriterion.Verdict v = a.verdict();
                out.printf(
                        "  %-4s %-9s arunet median %.3g worst %.3g | PyTorch median %.3g worst %.3g (%s) | %s%n",
                        a.precision(),
                        a.caseName().substring(0, a.caseName().indexOf('/')),
                        v.median(),
                        v.worst(),
                        v.reference().median(),
                        v.reference().worst(),
                        a.measured() ? "measured in this run" : "H200 calibration: not measured in this run",
                        v.pass() ? "PASS" : "FAIL");
            }
        }
        List<String> failures = run.failures();
        out.println(failures.isEmpty() ? "ALL PARITY CASES PASSED" : failures.size() + " FAILED:");
        failures.forEach(f -> out.println("  " + f));
    }

    // ------------------------------------------------------------------ throughput

    /** Backends by configuration: tf32 is the CUDA backend in fp32 with TF32 tensor cores (a rehearsal's reference backend has no such mode). */
    static Function<Throughput.Config, Backend> byConfig(String backend) {
        Function<Precision, Backend> byPrecision = backends(backend);
        return c -> c.tf32() && backend.equals("cuda")
                ? new CudaBackend(Precision.F32, true)
                : byPrecision.apply(c.precision());
    }

    private static int profile(Map<String, String> opt, PrintStream out) {
        String backend = opt.getOrDefault("backend", "cuda");
        out.println("profile on " + backend + ": " + Cuda.describe());
        return OpProfileRun.run(
                byConfig(backend),
                Throughput.parseConfigs(require(opt, "configs")),
                Integer.parseInt(opt.getOrDefault("size", "512")),
                Integer.parseInt(opt.getOrDefault("width", "64")),
                Integer.parseInt(opt.getOrDefault("passes", "5")),
                Double.parseDouble(opt.getOrDefault("deadline", "60")),
                out);
    }

    private static int bench(Map<String, String> opt, PrintStream out) throws IOException {
        String backend = opt.getOrDefault("backend", "cuda");
        Path json = Path.of(require(opt, "json"));
        List<Throughput.Config> configs = Throughput.parseConfigs(require(opt, "configs"));
        int size = Integer.parseInt(opt.getOrDefault("size", "512"));
        int width = Integer.parseInt(opt.getOrDefault("width", "64"));
        double deadline = Double.parseDouble(opt.getOrDefault("deadline", "140"));
        Throughput t = new Throughput(
                byConfig(backend),
                size,
                width,
                Double.parseDouble(opt.getOrDefault("min-seconds", "2")),
                Integer.parseInt(opt.getOrDefault("min-iterations", "3")),
                Double.parseDouble(opt.getOrDefault("max-seconds", "10")),
                out);
        out.println("bench on " + backend + ": " + Cuda.describe() + "; " + t);
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("environment", environment(backend));
        List<Map<String, Object>> results = new ArrayList<>();
        doc.put("results", results);
        writeJson(json, doc);
        t.run(configs, deadline, r -> {
            results.add(r);
            try {
                writeJson(json, doc);
            } catch (IOException e) {
                out.println("cannot write " + json + ": " + e.getMessage());
            }
        });
        boolean anyOk = results.stream().anyMatch(r -> "ok".equals(r.get("status")));
        return anyOk ? 0 : 1;
    }
}
