package org.arunet.bench.gpu;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.reference.ReferenceBackend;
import org.arunet.model.ArUNet;
import org.arunet.model.ArUNetConfig;
import org.arunet.nn.Init;
import org.arunet.nn.Parameter;
import org.arunet.testkit.OpCases;

/**
 * What {@code prepare.sh} computes on the CPU machine. Kept apart from the GPU-side classes: it is the
 * only class of the harness that touches the CPU backend (oneDNN, not in the thin jar).
 */
final class CpuSide {
    private CpuSide() {}

    /** Every parity case on the CPU backend; inputs and outputs to {@code out}. */
    static int expected(Path out, PrintStream log) throws IOException {
        long t0 = System.nanoTime();
        try (CpuBackend cpu = new CpuBackend()) {
            ExpectedResults.write(out, OpCases.all(), cpu, log);
        }
        log.printf(
                "expected results of %d cases written to %s (%,d bytes) in %.1f s%n",
                OpCases.all().size(), out, Files.size(out), (System.nanoTime() - t0) / 1e9);
        return 0;
    }

    /** The default ARU-Net's parameter names and shapes, one per line ("name\t[d0, d1, ...]"), and the total. */
    static int names(Path out, PrintStream log) throws IOException {
        try (ReferenceBackend ref = new ReferenceBackend();
                ArUNet net = new ArUNet(ref, ArUNetConfig.paper(), Init.Scheme.PYTORCH, 0)) {
            List<String> lines = new ArrayList<>();
            for (Map.Entry<String, Parameter> e : net.namedParameters().entrySet()) {
                lines.add(
                        e.getKey() + "\t" + Arrays.toString(e.getValue().value().shape()));
            }
            lines.add("# total\t" + net.parameterCount());
            Files.write(out, lines);
            log.printf(
                    "%d parameter tensors, %,d parameters, written to %s%n",
                    lines.size() - 1, net.parameterCount(), out);
        }
        return 0;
    }
}
