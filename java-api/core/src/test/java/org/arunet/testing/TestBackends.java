package org.arunet.testing;

import java.util.function.Supplier;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.Named;

/** The backends every numerical test runs on: the pure-Java oracle and the native CPU backend. */
public final class TestBackends {
    private TestBackends() {}

    public static Stream<Named<Supplier<Backend>>> all() {
        return Stream.of(
                Named.of("reference", ReferenceBackend::new),
                Named.of("cpu", CpuBackend::new));
    }
}
