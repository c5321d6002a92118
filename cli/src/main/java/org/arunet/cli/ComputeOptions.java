package org.arunet.cli;

import org.arunet.backend.Backend;
import org.arunet.backend.Precision;
import picocli.CommandLine.Option;

/** Where and how the arithmetic runs: {@code --device}, {@code --threads}, {@code --precision} (one copy for every command). */
final class ComputeOptions {
    @Option(
            names = "--device",
            defaultValue = "auto",
            description =
                    "cpu, cuda, cuda:fp16, cuda:bf16, cuda:tf32 or" + " auto (a GPU when one is usable, else the CPU).")
    String device = "auto";

    @Option(names = "--threads", defaultValue = "0", description = "CPU compute threads (0 = all cores).")
    int threads;

    @Option(
            names = "--precision",
            defaultValue = "f32",
            converter = EnumConverters.PrecisionConverter.class,
            description = "Convolution arithmetic on the CPU: f32, or bf16 (bfloat16 operands, float32 accumulation;"
                    + " in training also float32 master weights: mixed precision). Needs a CPU with AVX512-BF16 or AMX."
                    + " On a GPU choose the precision with --device cuda:bf16 or cuda:fp16.")
    Precision precision = Precision.F32;

    /** A backend for these options, with the precision applied (for training too when {@code training}). */
    Backend backend(boolean training) {
        Backend be = BaseCommand.backend(device, threads);
        try {
            BaseCommand.applyPrecision(be, precision, training);
        } catch (RuntimeException e) {
            be.close();
            throw e;
        }
        return be;
    }
}
