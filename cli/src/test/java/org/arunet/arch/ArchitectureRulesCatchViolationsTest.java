package org.arunet.arch;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.EvaluationResult;
import java.util.List;
import org.arunet.backend.ArchViolationBackends;
import org.arunet.backend.Backends;
import org.arunet.backend.Precision;
import org.arunet.backend.cpu.CpuBackend;
import org.arunet.backend.cuda.CudaBackend;
import org.arunet.eval.ArchViolationEvaluator;
import org.arunet.eval.ImageScore;
import org.arunet.infer.Evaluator;
import org.arunet.infer.Segmenter;
import org.arunet.model.ArUNet;
import org.arunet.model.ArchViolationTrainingModel;
import org.arunet.nn.ArchViolationMatModule;
import org.arunet.nn.Conv2d;
import org.arunet.train.Adam;
import org.arunet.train.ArchViolationCudaInTraining;
import org.arunet.train.Checkpoint;
import org.arunet.train.Gradients;
import org.arunet.train.LossScaler;
import org.arunet.train.Trainer;
import org.junit.jupiter.api.Test;

/**
 * Each architecture rule fails on a violation like those the code had before the rules existed (the
 * violating classes are test classes, in this module's test sources, under the packages they would
 * break) and passes on the same neighbourhood of real classes without it.
 */
class ArchitectureRulesCatchViolationsTest {
    /** The rules this class shows failing (ArchitectureTest checks that it is all of them). */
    static final List<ArchRule> RULES_SHOWN = List.of(
            ArchitectureRules.CUDA_ONLY_IN_ITS_MODULE,
            ArchitectureRules.NO_PACKAGE_CYCLES,
            ArchitectureRules.NO_BYTEDECO_IN_PUBLIC_CORE,
            ArchitectureRules.LAYERS,
            ArchitectureRules.SPI_NAMES_NO_ENGINE,
            ArchitectureRules.ONE_PRECISION,
            ArchitectureRules.PACKAGES_IN_THEIR_MODULES);

    private static JavaClasses classes(Class<?>... cs) {
        return new ClassFileImporter().importClasses(cs);
    }

    /** {@code rule} fails on {@code bad} naming {@code culprit}, and passes on {@code good}. */
    private static void catches(ArchRule rule, JavaClasses bad, Class<?> culprit, JavaClasses good) {
        EvaluationResult r = rule.evaluate(bad);
        assertTrue(r.hasViolation(), "not caught: " + rule.getDescription());
        String report = String.join("\n", r.getFailureReport().getDetails());
        assertTrue(
                report.contains(culprit.getName()), "the report does not name " + culprit.getName() + ":\n" + report);
        EvaluationResult clean = rule.evaluate(good);
        assertFalse(clean.hasViolation(), "fails without the violation too:\n" + clean.getFailureReport());
    }

    @Test
    void aCudaTypeInTrainingCodeIsCaught() {
        // what LossScaler.forBackend and Gradients did: instanceof CudaBackend
        catches(
                ArchitectureRules.CUDA_ONLY_IN_ITS_MODULE,
                        classes(ArchViolationCudaInTraining.class, CudaBackend.class),
                ArchViolationCudaInTraining.class, classes(LossScaler.class, Gradients.class, CudaBackend.class));
    }

    @Test
    void thePackageCycleTrainEvalInferIsCaught() {
        // the old org.arunet.eval.Evaluator used infer.Segmenter; Segmenter uses train.Checkpoint; Trainer
        // uses eval.ImageScore: train -> eval -> infer -> train
        catches(
                ArchitectureRules.NO_PACKAGE_CYCLES,
                classes(
                        ArchViolationEvaluator.class,
                        Segmenter.class,
                        Checkpoint.class,
                        Trainer.class,
                        ImageScore.class),
                ArchViolationEvaluator.class,
                classes(Evaluator.class, Segmenter.class, Checkpoint.class, Trainer.class, ImageScore.class));
    }

    @Test
    void anOpenCvTypeInAPublicCoreSignatureIsCaught() {
        // as Segmenter.segment(Mat) was, in a core package
        catches(
                ArchitectureRules.NO_BYTEDECO_IN_PUBLIC_CORE, classes(ArchViolationMatModule.class),
                ArchViolationMatModule.class, classes(Conv2d.class, CpuBackend.class));
    }

    @Test
    void coreUsingTrainingIsCaught() {
        catches(
                ArchitectureRules.LAYERS, classes(ArchViolationTrainingModel.class, Adam.class),
                ArchViolationTrainingModel.class, classes(ArUNet.class, Trainer.class, Adam.class));
    }

    @Test
    void theSpiNamingAnEngineIsCaught() {
        // what Backends did: new CpuBackend(), new CudaBackend(...)
        catches(
                ArchitectureRules.SPI_NAMES_NO_ENGINE, classes(ArchViolationBackends.class, CpuBackend.class),
                ArchViolationBackends.class, classes(Backends.class, CpuBackend.class));
    }

    @Test
    void aSecondPrecisionIsCaught() {
        // backend.cuda.Precision beside backend.Precision
        catches(
                ArchitectureRules.ONE_PRECISION, classes(org.arunet.backend.cuda.archviolation.Precision.class),
                org.arunet.backend.cuda.archviolation.Precision.class, classes(Precision.class));
    }

    @Test
    void aClassInTheWrongModuleIsCaught() {
        // the fixture classes lie in cli's test classes, not in the module of their package (core's, here)
        catches(
                ArchitectureRules.PACKAGES_IN_THEIR_MODULES, classes(ArchViolationMatModule.class, Conv2d.class),
                ArchViolationMatModule.class,
                        classes(Conv2d.class, CpuBackend.class, Trainer.class, CudaBackend.class));
    }
}
