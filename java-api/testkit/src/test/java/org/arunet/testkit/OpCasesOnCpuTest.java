package org.arunet.testkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.arunet.backend.Precision;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The GPU parity cases, run here with the CPU backend under test and the pure-Java reference as the
 * expected side: proves that every case, its generator and its tolerances work (and are not vacuous)
 * before GPU time is spent on them.
 */
class OpCasesOnCpuTest {
    private static CpuBackend cpu;
    private static ReferenceBackend ref;

    @BeforeAll
    static void open() {
        cpu = new CpuBackend(2);
        ref = new ReferenceBackend();
    }

    @AfterAll
    static void close() {
        cpu.close();
        ref.close();
    }

    static Stream<OpCase> cases() {
        return OpCases.all().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cpuMatchesReference(OpCase c) {
        Map<String, HostTensor> inputs = c.inputs();
        Map<String, HostTensor> expected = c.run(ref, inputs);
        Map<String, HostTensor> actual = c.run(cpu, c.inputs());
        List<Comparison.Result> results = Comparison.compare(c, actual, expected, Precision.F32);
        assertFalse(results.isEmpty(), c.name() + " has no outputs");
        String failures = results.stream()
                .filter(r -> !r.pass())
                .map(Comparison.Result::line)
                .collect(Collectors.joining("\n"));
        if (!failures.isEmpty()) {
            fail(c.name() + ":\n" + failures);
        }
    }

    @Test
    void namesAreUniqueAndInputsReproducible() {
        Set<String> names = new HashSet<>();
        for (OpCase c : OpCases.all()) {
            assertTrue(names.add(c.name()), "duplicate case " + c.name());
        }
        OpCase first = OpCases.all().get(0);
        Map<String, HostTensor> a = first.inputs();
        Map<String, HostTensor> b = first.inputs();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertEquals(
                    java.util.Arrays.toString(a.get(k).floats()),
                    java.util.Arrays.toString(b.get(k).floats()),
                    k);
        }
    }

    @Test
    void comparisonCatchesDifferences() {
        OpCase c = OpCases.all().get(0);
        Map<String, HostTensor> expected = c.run(ref, c.inputs());
        Map<String, HostTensor> actual = c.run(cpu, c.inputs());
        HostTensor add = actual.get("add");
        add.floats()[3] += 1e-3f;
        List<Comparison.Result> results = Comparison.compare(c, actual, expected, Precision.F32);
        Comparison.Result r = results.stream()
                .filter(x -> x.output().equals("add"))
                .findFirst()
                .orElseThrow();
        assertFalse(r.pass(), r.line());
        assertEquals(3, r.worst(), r.line());
        actual.remove("fill");
        assertTrue(
                Comparison.compare(c, actual, expected, Precision.F32).stream()
                        .anyMatch(x -> x.output().equals("fill") && !x.pass()),
                "a missing output fails");
        HostTensor nan = actual.get("scale");
        nan.floats()[0] = Float.NaN;
        assertTrue(
                Comparison.compare(c, actual, expected, Precision.F32).stream()
                        .anyMatch(x -> x.output().equals("scale") && !x.pass()),
                "a NaN where a number is expected fails");
    }
}
