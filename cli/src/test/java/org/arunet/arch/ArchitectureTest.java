package org.arunet.arch;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The architecture rules ({@link ArchitectureRules}, docs/ARCHITECTURE.md) on the main classes of every
 * module the CLI is built from and of the test kit: native, java-api/core, java-api/cuda, datasets,
 * java-api, java-api/onnx, java-api/video, java-api/fiji and java-api/spark (test dependencies of the CLI for this), java-api/testkit, cli. (The benchmarks are on top of all of them and use
 * nothing the rules restrict but the CUDA module and the test kit, which they may.)
 */
class ArchitectureTest {
    static final JavaClasses MAIN = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.arunet");

    @TestFactory
    Stream<DynamicTest> rules() {
        return ArchitectureRules.all().stream()
                .map(rule -> DynamicTest.dynamicTest(rule.getDescription(), () -> rule.check(MAIN)));
    }

    /** The rules see every module (they would pass vacuously on a class path that lacks one). */
    @Test
    void everyModuleIsImported() {
        for (String c : List.of(
                "org.arunet.jni.ArunetNative",
                "org.arunet.backend.cpu.CpuBackend",
                "org.arunet.backend.cuda.CudaBackend",
                "org.arunet.data.io.ImageReader",
                "org.arunet.train.Trainer",
                "org.arunet.onnx.OnnxExporter",
                "org.arunet.video.VideoFiles",
                "org.arunet.testkit.OpCases",
                "org.arunet.cli.Main",
                "org.arunet.fiji.SegmentLesion",
                "org.arunet.spark.ArunetSpark")) {
            assertTrue(MAIN.contain(c), c + " is not among the imported classes");
        }
    }

    /** Every rule of the list has a test showing that it fails on a violation. */
    @Test
    void everyRuleHasAViolationTest() {
        List<ArchRule> shown = ArchitectureRulesCatchViolationsTest.RULES_SHOWN;
        for (ArchRule r : ArchitectureRules.all()) {
            assertTrue(shown.contains(r), "no violation test for: " + r.getDescription());
        }
    }
}
