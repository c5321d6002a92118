package org.arunet.backend;

import org.arunet.backend.cpu.CpuBackend;

/**
 * Not a test: an architecture violation for ArchitectureRulesCatchViolationsTest, what {@code Backends}
 * was (the SPI package constructing an engine by its type instead of finding its provider).
 */
public final class ArchViolationBackends {
    private ArchViolationBackends() {}

    public static Backend cpu() {
        return new CpuBackend(1);
    }
}
