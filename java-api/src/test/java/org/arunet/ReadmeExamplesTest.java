package org.arunet;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every {@code ```java} block of the README and of the user guide compiles against the library (each document
 * on its own: the two may use the same class names).
 */
class ReadmeExamplesTest {
    @Test
    void readmeJavaExamplesCompile(@TempDir Path out) throws IOException {
        compileExamples(Path.of("..", "README.md"), out.resolve("readme"));
    }

    @Test
    void guideJavaExamplesCompile(@TempDir Path out) throws IOException {
        compileExamples(Path.of("..", "docs", "GUIDE.md"), out.resolve("guide"));
    }

    private static void compileExamples(Path doc, Path out) throws IOException {
        Files.createDirectories(out);
        String readme = Files.readString(doc);
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        List<JavaFileObject> sources = new ArrayList<>();
        while (m.find()) {
            String code = m.group(1);
            Matcher cls = Pattern.compile("public class (\\w+)").matcher(code);
            assertTrue(cls.find(), doc + ": a Java example must be a complete public class:\n" + code);
            String name = cls.group(1);
            sources.add(
                    new SimpleJavaFileObject(URI.create("string:///" + name + ".java"), JavaFileObject.Kind.SOURCE) {
                        @Override
                        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                            return code;
                        }
                    });
        }
        assertFalse(sources.isEmpty(), doc + " has no Java example");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diag = new DiagnosticCollector<>();
        try (StandardJavaFileManager fm = javac.getStandardFileManager(diag, null, null)) {
            boolean ok = javac.getTask(
                            null,
                            fm,
                            diag,
                            List.of(
                                    "-classpath",
                                    System.getProperty("java.class.path"),
                                    "-d",
                                    out.toString(),
                                    "--release",
                                    "17"),
                            null,
                            sources)
                    .call();
            assertTrue(ok, doc + ": its Java examples do not compile: " + diag.getDiagnostics());
        }
    }
}
