package org.arunet.testing;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.arunet.backend.Backend;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.junit.jupiter.api.Named;

/** The backends every numerical test runs on (the pure-Java oracle and the native CPU backend), and test doubles. */
public final class TestBackends {
    private TestBackends() {}

    public static Stream<Named<Supplier<Backend>>> all() {
        return Stream.of(Named.of("reference", ReferenceBackend::new), Named.of("cpu", CpuBackend::new));
    }

    /**
     * {@code inner} saying that it needs loss scaling, as a float16 GPU backend does (a proxy: every other
     * call goes to {@code inner}), for tests of what follows that capability without a GPU.
     */
    public static Backend needingLossScaling(Backend inner) {
        return (Backend) Proxy.newProxyInstance(
                Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, (proxy, method, args) -> {
                    if (method.getName().equals("requiresLossScaling")) {
                        return true;
                    }
                    try {
                        return method.invoke(inner, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }
}
