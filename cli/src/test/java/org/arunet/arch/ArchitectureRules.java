package org.arunet.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaCodeUnit;
import com.tngtech.archunit.core.domain.JavaField;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.domain.JavaType;
import com.tngtech.archunit.core.domain.Source;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ArchRule;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The architecture's rules, each one {@link ArchRule} (docs/ARCHITECTURE.md lists them with the module
 * picture). {@link ArchitectureTest} checks them on the main classes of every module the CLI is built
 * from plus the test kit; {@link ArchitectureRulesCatchViolationsTest} shows each one failing on a
 * violation like those the code once had.
 */
final class ArchitectureRules {
    private ArchitectureRules() {}

    static final String NATIVE = "org.arunet.jni..";
    /** The packages of arunet-core (java-api/core). */
    static final String[] CORE = {
        "org.arunet.tensor..",
        "org.arunet.backend",
        "org.arunet.backend.cpu..",
        "org.arunet.backend.reference..",
        "org.arunet.nn..",
        "org.arunet.model..",
        "org.arunet.io.."
    };

    static final String CUDA = "org.arunet.backend.cuda..";
    static final String DATA = "org.arunet.data..";
    /** The packages of arunet-java-api (java-api). */
    static final String[] API = {
        "org.arunet.train..",
        "org.arunet.infer..",
        "org.arunet.eval..",
        "org.arunet.report..",
        "org.arunet.pretrained.."
    };

    static final String ONNX = "org.arunet.onnx..";
    /** The Fiji/ImageJ plugin (java-api/fiji): on top of the Java API, used by nothing of ours. */
    static final String FIJI = "org.arunet.fiji..";
    /** The Spark module (java-api/spark): on top of the Java API, used by nothing of ours. */
    static final String SPARK = "org.arunet.spark..";

    static final String TESTKIT = "org.arunet.testkit..";
    static final String VIDEO = "org.arunet.video..";
    static final String CLI = "org.arunet.cli..";
    static final String BENCH = "org.arunet.bench..";

    /**
     * The module of each package group, most specific first: its folder and its artifact (a class is
     * read from one or the other: {@code <folder>/target/classes} or {@code <artifact>-<version>.jar}).
     */
    static final List<String[]> MODULES = List.of(
            new String[] {"org.arunet.jni.", "native", "arunet-native"},
            new String[] {"org.arunet.backend.cuda.", "java-api/cuda", "arunet-cuda"},
            new String[] {"org.arunet.tensor.", "java-api/core", "arunet-core"},
            new String[] {"org.arunet.backend.", "java-api/core", "arunet-core"},
            new String[] {"org.arunet.nn.", "java-api/core", "arunet-core"},
            new String[] {"org.arunet.model.", "java-api/core", "arunet-core"},
            new String[] {"org.arunet.io.", "java-api/core", "arunet-core"},
            new String[] {"org.arunet.data.", "datasets", "arunet-datasets"},
            new String[] {"org.arunet.train.", "java-api", "arunet-java-api"},
            new String[] {"org.arunet.infer.", "java-api", "arunet-java-api"},
            new String[] {"org.arunet.eval.", "java-api", "arunet-java-api"},
            new String[] {"org.arunet.report.", "java-api", "arunet-java-api"},
            new String[] {"org.arunet.pretrained.", "java-api", "arunet-java-api"},
            new String[] {"org.arunet.onnx.", "java-api/onnx", "arunet-onnx"},
            new String[] {"org.arunet.fiji.", "java-api/fiji", "arunet-fiji"},
            new String[] {"org.arunet.video.", "java-api/video", "arunet-video"},
            new String[] {"org.arunet.spark.", "java-api/spark", "arunet-spark"},
            new String[] {"org.arunet.testkit.", "java-api/testkit", "arunet-testkit"},
            new String[] {"org.arunet.cli.", "cli", "arunet-cli"},
            new String[] {"org.arunet.bench.gpu.", "benchmarks/gpu", "arunet-gpu-harness"},
            new String[] {"org.arunet.bench.", "benchmarks", "arunet-benchmarks"});

    /**
     * The module graph, as packages: each layer may use only the layers below it that its module
     * depends on (the Maven dependencies say the same; this also catches a package put in the wrong
     * module). Core uses nothing of ours but the native bindings; the CUDA backend is reached only
     * through the ServiceLoader (no layer may name it; the GPU harness in benchmarks/gpu may); the test
     * kit is for tests and the GPU harness.
     */
    static final ArchRule LAYERS = layeredArchitecture()
            .consideringOnlyDependenciesInLayers()
            .withOptionalLayers(true)
            .layer("Native")
            .definedBy(NATIVE)
            .layer("Core")
            .definedBy(CORE)
            .layer("Cuda")
            .definedBy(CUDA)
            .layer("Data")
            .definedBy(DATA)
            .layer("Api")
            .definedBy(API)
            .layer("Onnx")
            .definedBy(ONNX)
            .layer("Fiji")
            .definedBy(FIJI)
            .layer("Spark")
            .definedBy(SPARK)
            .layer("Testkit")
            .definedBy(TESTKIT)
            .layer("Video")
            .definedBy(VIDEO)
            .layer("Cli")
            .definedBy(CLI)
            .layer("Bench")
            .definedBy(BENCH)
            .whereLayer("Cli")
            .mayNotBeAccessedByAnyLayer()
            .whereLayer("Fiji")
            .mayNotBeAccessedByAnyLayer()
            .whereLayer("Spark")
            .mayNotBeAccessedByAnyLayer()
            .whereLayer("Bench")
            .mayNotBeAccessedByAnyLayer()
            .whereLayer("Testkit")
            .mayOnlyBeAccessedByLayers("Bench")
            .whereLayer("Onnx")
            .mayOnlyBeAccessedByLayers("Cli", "Bench")
            .whereLayer("Video")
            .mayOnlyBeAccessedByLayers("Cli", "Bench")
            .whereLayer("Api")
            .mayOnlyBeAccessedByLayers("Onnx", "Fiji", "Spark", "Testkit", "Video", "Cli", "Bench")
            .whereLayer("Data")
            .mayOnlyBeAccessedByLayers("Api", "Onnx", "Fiji", "Spark", "Testkit", "Video", "Cli", "Bench")
            .whereLayer("Cuda")
            .mayOnlyBeAccessedByLayers("Bench")
            .whereLayer("Core")
            .mayOnlyBeAccessedByLayers(
                    "Cuda", "Data", "Api", "Onnx", "Fiji", "Spark", "Testkit", "Video", "Cli", "Bench")
            .whereLayer("Native")
            .mayOnlyBeAccessedByLayers("Core")
            .because("the module graph points one way: native <- core <- {cuda, java-api <- datasets} <- onnx, testkit"
                    + " <- cli; fiji and spark on the Java API (docs/ARCHITECTURE.md)");

    /** No cycle between any two packages (sub-packages count as packages of their own). */
    static final ArchRule NO_PACKAGE_CYCLES = slices().matching("org.arunet.(**)")
            .should()
            .beFreeOfCycles()
            .because("a package cycle makes the packages one unit that cannot be split, tested or read alone");

    /** CUDA types (ours and JavaCPP's CUDA preset) appear only in the CUDA module. */
    static final ArchRule CUDA_ONLY_IN_ITS_MODULE = noClasses()
            .that()
            .resideOutsideOfPackages(CUDA, BENCH)
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage(CUDA, "org.bytedeco.cuda..")
            .because("engines are plug-ins: code asks the Backend SPI for capabilities (requiresLossScaling,"
                    + " scaleAndSumSquares) instead of naming the GPU backend, so decorators keep its fast paths");

    /** The SPI package names no engine: engines are found through ServiceLoader. */
    static final ArchRule SPI_NAMES_NO_ENGINE = noClasses()
            .that()
            .resideInAPackage("org.arunet.backend")
            .should()
            .dependOnClassesThat()
            .resideInAnyPackage("org.arunet.backend.cpu..", "org.arunet.backend.reference..", CUDA)
            .because("Backends finds every engine through META-INF/services/org.arunet.backend.BackendProvider");

    /** One precision type. */
    static final ArchRule ONE_PRECISION = classes()
            .that()
            .haveSimpleName("Precision")
            .should()
            .resideInAPackage("org.arunet.backend")
            .because("the CPU and GPU backends share org.arunet.backend.Precision");

    /** No org.bytedeco type in a public or protected signature of a public core class. */
    static final ArchRule NO_BYTEDECO_IN_PUBLIC_CORE = classes()
            .that()
            .resideInAnyPackage(CORE)
            .and()
            .arePublic()
            .should(exposeNoTypeFrom("org.bytedeco"))
            .because("the core's API is plain Java: JavaCPP and OpenCV types stay inside (datasets adapts OpenCV)");

    /**
     * Every class lies in the module of its package ({@link #MODULES}): the layout the other rules assume,
     * so that a package rule is also a module rule.
     */
    static final ArchRule PACKAGES_IN_THEIR_MODULES = classes()
            .that()
            .resideInAPackage("org.arunet..")
            .should(lieInTheModuleOfTheirPackage())
            .because("docs/ARCHITECTURE.md maps packages to modules; a class elsewhere would make its module"
                    + " depend on what the map says it must not");

    static List<ArchRule> all() {
        return List.of(
                LAYERS,
                NO_PACKAGE_CYCLES,
                CUDA_ONLY_IN_ITS_MODULE,
                SPI_NAMES_NO_ENGINE,
                ONE_PRECISION,
                NO_BYTEDECO_IN_PUBLIC_CORE,
                PACKAGES_IN_THEIR_MODULES);
    }

    private static ArchCondition<JavaClass> lieInTheModuleOfTheirPackage() {
        return new ArchCondition<>("lie in the module of their package") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                String[] module = null;
                for (String[] m : MODULES) {
                    if (c.getName().startsWith(m[0])) {
                        module = m;
                        break;
                    }
                }
                if (module == null) {
                    return; // a package outside the map (none in the main code)
                }
                String where =
                        c.getSource().map(Source::getUri).map(Object::toString).orElse("?");
                boolean ok = where.contains("/" + module[1] + "/target/") || where.contains("/" + module[2] + "-");
                events.add(new SimpleConditionEvent(
                        c,
                        ok,
                        c.getName() + " comes from " + where + ", not from module " + module[1] + " (" + module[2]
                                + ")"));
            }
        };
    }

    /** Public and protected members (and the class's own supertypes) use no type of a package prefix. */
    static ArchCondition<JavaClass> exposeNoTypeFrom(String prefix) {
        return new ArchCondition<>("expose no type from " + prefix) {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                Set<String> found = new LinkedHashSet<>();
                List<JavaType> supertypes = new ArrayList<>(c.getInterfaces());
                c.getSuperclass().ifPresent(supertypes::add);
                for (JavaType t : supertypes) {
                    collect(found, "supertype", t, prefix);
                }
                for (JavaCodeUnit u : c.getCodeUnits()) {
                    if (!visible(u.getModifiers())) {
                        continue;
                    }
                    for (JavaType t : u.getParameterTypes()) {
                        collect(found, u.getFullName(), t, prefix);
                    }
                    collect(found, u.getFullName(), u.getReturnType(), prefix);
                    for (JavaClass t : u.getThrowsClause().getTypes()) {
                        collect(found, u.getFullName(), t, prefix);
                    }
                }
                for (JavaField f : c.getFields()) {
                    if (visible(f.getModifiers())) {
                        collect(found, f.getFullName(), f.getType(), prefix);
                    }
                }
                if (found.isEmpty()) {
                    events.add(SimpleConditionEvent.satisfied(c, c.getName() + " exposes no " + prefix + " type"));
                }
                for (String f : found) {
                    events.add(SimpleConditionEvent.violated(c, f));
                }
            }
        };
    }

    private static boolean visible(Set<JavaModifier> modifiers) {
        return modifiers.contains(JavaModifier.PUBLIC) || modifiers.contains(JavaModifier.PROTECTED);
    }

    private static void collect(Set<String> found, String where, JavaType type, String prefix) {
        for (JavaClass raw : type.getAllInvolvedRawTypes()) {
            if (raw.getName().startsWith(prefix + ".")) {
                found.add(where + " exposes " + raw.getName());
            }
        }
    }
}
