package org.arunet.data.io;

import java.nio.file.Path;

/**
 * Bad input data: an unreadable, corrupt, oversized or inconsistent file, a missing mask, an empty
 * data set, a split file that does not match the data. The message always names the file (when there
 * is one) and says what is wrong with it, e.g. {@code "masks/a.png: mask is 300x200 but image
 * images/a.png is 320x240"}.
 */
public class DataException extends RuntimeException {
    private final Path file;
    private final String problem;

    /** A problem with one file; the message is {@code "<file>: <problem>"}. */
    public DataException(Path file, String problem) {
        this(file, problem, null);
    }

    /** A problem with one file, caused by a lower-level exception. */
    public DataException(Path file, String problem, Throwable cause) {
        super(file + ": " + problem, cause);
        this.file = file;
        this.problem = problem;
    }

    /** A problem that concerns no single file (an empty data set, inconsistent options). */
    public DataException(String problem) {
        super(problem);
        this.file = null;
        this.problem = problem;
    }

    /** The file at fault, or {@code null} when the problem concerns no single file. */
    public Path file() {
        return file;
    }

    /** What is wrong, without the file name. */
    public String problem() {
        return problem;
    }
}
